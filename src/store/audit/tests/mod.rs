//! Tests of the audit log: the shared fixtures here, one module per topic below.

mod prune;
mod query;
mod ranges;

use rusqlite::{Connection, params, params_from_iter};

use super::insert::{NO_ACCOUNT, Range, Ranges, store_ranges};
use super::prune::{OLD_RUN_END, PRUNE};
use super::query::{RANGES_OF_ACCOUNT, RANGES_OF_TOKEN, list_query};
use super::*;

fn entry(at: i64, token: Option<i64>, status: u16) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        account_id: token.map(|_| AccountId(1)),
        token_id: token.map(TokenId),
        token_prefix: token.map(|t| format!("pref{t:04}")),
        user_id: token.map(|_| UserId(1)),
        method: "GET".into(),
        path: "/api/v1/leads".into(),
        status,
        code: None,
        ip: "127.0.0.1".into(),
        latency_us: 100,
    }
}

fn migrated() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate(&mut conn).unwrap();
    conn
}

/// A row of no token with this id, with its range as a write stores it (once migration V13
/// made the table): the next rows' ids follow it.
fn skip_ids_to(conn: &Connection, id: i64) {
    conn.execute(
        "INSERT INTO audit_log (id, at, method, path, status, ip, latency_us) \
         VALUES (?1, 0, 'GET', '/healthz', 200, '127.0.0.1', 1)",
        [id],
    )
    .unwrap();
    let has_ranges: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_account_ranges'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if has_ranges {
        let mut range = Ranges::default();
        Range::extend(&mut range, (id >> BLOCK_BITS, NO_ACCOUNT), id, 0);
        store_ranges(conn, "audit_account_ranges", "account_id", range).unwrap();
    }
}

/// Calls of four tokens over three blocks of ids, written in writes of 40 rows (one
/// statement of 32, then 8 of one row each); every tenth call's time is a minute before
/// its neighbours' (it was answered later). Token 4 is account 2's, the others account 1's;
/// the rows that move the ids on name no account.
fn calls_over_blocks(conn: &Connection) -> Vec<AuditEntry> {
    let block = 1i64 << BLOCK_BITS;
    let mut entries = Vec::new();
    for i in 0..240i64 {
        let mut at = 1_000_000 + i * 1_000;
        if i % 10 == 9 {
            at -= 60_000;
        }
        // Token 3 calls in the first and last blocks only, token 4 twice in each.
        let token = match i % 5 {
            _ if [10, 11, 230, 231].contains(&i) => 4,
            0 | 1 => 1,
            2 | 3 => 2,
            _ if (80..160).contains(&i) => 1,
            _ => 3,
        };
        let account = AccountId(if token == 4 { 2 } else { 1 });
        entries.push(AuditEntry {
            account_id: Some(account),
            ..entry(at, Some(token), 200)
        });
    }
    let mut ids = Vec::new();
    for (n, chunk) in entries.chunks(40).enumerate() {
        // The writes of calls 80.. and 160.. begin three ids before a block's end: their
        // statements of 32 rows cross into the next block.
        if n == 2 || n == 4 {
            skip_ids_to(conn, (n as i64 / 2) * block - 4);
        }
        insert_many(conn, chunk).unwrap();
        let last = conn.last_insert_rowid();
        ids.extend(last - chunk.len() as i64 + 1..=last);
    }
    entries
        .into_iter()
        .zip(ids)
        .map(|(e, id)| AuditEntry { id, ..e })
        .collect()
}

fn blocks(conn: &Connection) -> Vec<i64> {
    conn.prepare("SELECT DISTINCT block FROM audit_token_ranges ORDER BY block")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Who a listing asks for: a token (with its account, as the admin page asks), an account,
/// or everyone.
#[derive(Debug, Clone, Copy)]
enum Whose {
    Token(i64),
    Account(i64),
    Everyone,
}

/// Every page of `whose` calls within `since..until`, `limit` at a time.
fn all_pages(
    conn: &Connection,
    whose: Whose,
    since: Option<i64>,
    until: Option<i64>,
    limit: u32,
) -> Vec<i64> {
    let (token, account) = match whose {
        Whose::Token(t) => (
            Some(TokenId(t)),
            Some(AccountId(if t == 4 { 2 } else { 1 })),
        ),
        Whose::Account(a) => (None, Some(AccountId(a))),
        Whose::Everyone => (None, None),
    };
    let mut got = Vec::new();
    let mut before_id = None;
    loop {
        let page = list(
            conn,
            &AuditFilter {
                token,
                account,
                since,
                until,
                before_id,
                limit,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(page.len() <= limit as usize);
        got.extend(page.iter().map(|e| e.id));
        if page.len() < limit as usize {
            return got;
        }
        before_id = page.last().map(|e| e.id);
    }
}

/// The log as stored, newest first: the calls and the rows that moved the ids on.
fn stored_log(conn: &Connection) -> Vec<AuditEntry> {
    list(
        conn,
        &AuditFilter {
            limit: 10_000,
            ..Default::default()
        },
    )
    .unwrap()
}

/// (block, token, first id, last id, first time, last time) rows that `sql` selects.
type RangeRow = (i64, i64, i64, i64, i64, i64);

fn ranges(conn: &Connection, sql: &str) -> Vec<RangeRow> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `audit_token_ranges`, by block and token.
fn stored_ranges(conn: &Connection) -> Vec<RangeRow> {
    ranges(
        conn,
        "SELECT block, token_id, first_id, last_id, first_at, last_at \
         FROM audit_token_ranges ORDER BY 1, 2",
    )
}

/// `audit_account_ranges`, by block and account.
fn stored_account_ranges(conn: &Connection) -> Vec<RangeRow> {
    ranges(
        conn,
        "SELECT block, account_id, first_id, last_id, first_at, last_at \
         FROM audit_account_ranges ORDER BY 1, 2",
    )
}
