use std::collections::HashMap;

use rusqlite::{Connection, params, params_from_iter};

use super::insert::{NO_ACCOUNT, Range, store_ranges};
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

#[test]
fn filters_combine_and_pages_go_newest_first() {
    let conn = migrated();
    let entries: Vec<_> = (0..30)
        .map(|i| {
            entry(
                1_000 + i,
                (i % 3 != 0).then_some(i % 2),
                200 + (i % 2) as u16,
            )
        })
        .collect();
    insert_many(&conn, &entries).unwrap();
    let ats = |f: AuditFilter| -> Vec<i64> {
        list(&conn, &AuditFilter { limit: 100, ..f })
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect()
    };
    let want = |keep: &dyn Fn(&AuditEntry) -> bool| -> Vec<i64> {
        entries
            .iter()
            .rev()
            .filter(|e| keep(e))
            .map(|e| e.at)
            .collect()
    };
    assert_eq!(ats(AuditFilter::default()), want(&|_| true));
    assert_eq!(
        ats(AuditFilter {
            token: Some(TokenId(1)),
            ..Default::default()
        }),
        want(&|e| e.token_id == Some(TokenId(1)))
    );
    assert_eq!(
        ats(AuditFilter {
            account: Some(AccountId(1)),
            status: Some(200),
            since: Some(1_010),
            until: Some(1_025),
            ..Default::default()
        }),
        want(&|e| e.account_id.is_some() && e.status == 200 && (1_010..1_025).contains(&e.at))
    );
    let first = list(
        &conn,
        &AuditFilter {
            limit: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(first.len(), 4);
    let next = ats(AuditFilter {
        before_id: Some(first[3].id),
        ..Default::default()
    });
    assert_eq!(next, want(&|e| e.at < first[3].at));
}

#[test]
fn a_page_of_a_range_walks_its_ids_and_ranges_are_found_by_index() {
    let conn = migrated();
    let plan = |sql: &str, args: Vec<i64>| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details = explain
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        details.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    // One range of a token's or an account's ids, in a time window: a bounded walk of the
    // log's ids, not the whole log.
    for (token, since) in [(Some(TokenId(7)), None), (None, Some(5))] {
        let (sql, args) = list_query(
            &AuditFilter {
                account: Some(AccountId(1)),
                token,
                since,
                before_id: Some(1_000),
                limit: 50,
                ..Default::default()
            },
            Some(900),
        );
        let p = plan(&sql, args);
        assert!(
            p.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
            "{p}"
        );
    }
    for (sql, index) in [
        (RANGES_OF_TOKEN, "audit_token_ranges_token"),
        (RANGES_OF_ACCOUNT, "audit_account_ranges_account"),
    ] {
        let p = plan(sql, vec![7, 1, 2]);
        assert!(p.contains(&format!("INDEX {index}")), "{p}");
    }
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
        let mut range = HashMap::new();
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

#[test]
fn calls_come_newest_first_whole_and_once_across_blocks_and_pages() {
    let conn = migrated();
    calls_over_blocks(&conn);
    assert_eq!(blocks(&conn), [0, 1, 2]);
    let log = stored_log(&conn);
    assert_eq!(
        log.len(),
        242,
        "240 calls and the two rows that moved the ids on"
    );
    let mut whose: Vec<Whose> = (1..=5).map(Whose::Token).collect();
    whose.extend((0..=3).map(Whose::Account));
    whose.push(Whose::Everyone);
    for who in whose {
        for (since, until) in [
            (None, None),
            (Some(1_085_000), None),
            (Some(1_079_500), Some(1_161_000)),
            (None, Some(1_012_000)),
            (Some(0), Some(1)),
            (Some(2_000_000), None),
        ] {
            let want: Vec<i64> = log
                .iter()
                .filter(|e| match who {
                    Whose::Token(t) => e.token_id == Some(TokenId(t)),
                    Whose::Account(a) => e.account_id == Some(AccountId(a)),
                    Whose::Everyone => true,
                })
                .filter(|e| since.is_none_or(|s| e.at >= s) && until.is_none_or(|u| e.at < u))
                .map(|e| e.id)
                .collect();
            for limit in [1, 3, 7, 50, 500] {
                assert_eq!(
                    all_pages(&conn, who, since, until, limit),
                    want,
                    "{who:?}, {since:?}..{until:?}, pages of {limit}"
                );
            }
        }
    }
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

/// One write of 100 rows (three statements of 32, four of one) from 40 ids before a
/// block's end: the ids follow each other, and the ranges are those the rows themselves
/// give (migration V9's query over the log).
#[test]
fn a_large_write_gives_consecutive_ids_and_the_ranges_of_its_rows() {
    let conn = migrated();
    let block = 1i64 << BLOCK_BITS;
    skip_ids_to(&conn, block - 41);
    let entries: Vec<_> = (0..100)
        .map(|i| entry(5_000 + i, (i % 7 != 0).then_some(i % 3 + 1), 200))
        .collect();
    insert_many(&conn, &entries).unwrap();
    let rows: Vec<(i64, i64, Option<i64>)> = conn
        .prepare("SELECT id, at, token_id FROM audit_log WHERE id >= ?1 ORDER BY id")
        .unwrap()
        .query_map([block - 40], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let want: Vec<_> = (block - 40..)
        .zip(&entries)
        .map(|(id, e)| (id, e.at, e.token_id.map(|t| t.0)))
        .collect();
    assert_eq!(rows, want);
    let stored = stored_ranges(&conn);
    let from_rows = ranges(
        &conn,
        "SELECT id >> 14, token_id, min(id), max(id), min(at), max(at) FROM audit_log \
         WHERE token_id IS NOT NULL GROUP BY id >> 14, token_id ORDER BY 1, 2",
    );
    assert_eq!(stored, from_rows);
    assert_eq!(
        stored_account_ranges(&conn),
        ranges(
            &conn,
            "SELECT id >> 14, coalesce(account_id, 0), min(id), max(id), min(at), max(at) \
             FROM audit_log GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        "migration V13's query over the log"
    );
    assert_eq!(
        blocks(&conn),
        [0, 1],
        "the write crossed into the next block"
    );
}

/// The blocks `audit_account_ranges` holds rows of.
fn account_blocks(conn: &Connection) -> Vec<i64> {
    let mut blocks: Vec<i64> = stored_account_ranges(conn).iter().map(|r| r.0).collect();
    blocks.dedup();
    blocks
}

#[test]
fn the_prune_takes_the_run_of_old_ids_and_the_ranges_left_empty() {
    let conn = migrated();
    calls_over_blocks(&conn);
    let log = stored_log(&conn);
    let ids = |log: &[AuditEntry]| -> Vec<i64> { log.iter().map(|e| e.id).collect() };
    // The run ends at call 100, the first stamped at the cutoff. The late calls after it
    // (109, 119, ... 159: a minute older than their neighbours) and the second row that
    // moved the ids on wait for their neighbours; calls 0-99 and the first such row go.
    let cutoff = 1_100_000;
    let stop = log
        .iter()
        .filter(|e| e.at >= cutoff)
        .map(|e| e.id)
        .min()
        .unwrap();
    let (gone, kept): (Vec<_>, Vec<_>) = log
        .iter()
        .cloned()
        .partition(|e| e.id < stop && e.at < cutoff);
    assert_eq!(gone.len(), 101);
    assert_eq!(kept.iter().filter(|e| e.at < cutoff).count(), 7);
    let now = 2_000_000;
    assert_eq!(old_run_end(&conn, cutoff, now).unwrap(), stop);
    assert_eq!(prune(&conn, cutoff, stop, 10_000).unwrap(), gone.len());
    assert_eq!(ids(&stored_log(&conn)), ids(&kept));
    assert_eq!(blocks(&conn), [1, 2], "block 0 keeps no call");
    assert_eq!(account_blocks(&conn), [1, 2]);
    for token in [1, 4] {
        let want: Vec<i64> = kept
            .iter()
            .filter(|e| e.token_id == Some(TokenId(token)))
            .map(|e| e.id)
            .collect();
        assert_eq!(all_pages(&conn, Whose::Token(token), None, None, 7), want);
    }
    // In passes of at most 20 rows, as the upkeep prunes: the late calls go with the run
    // they sit in.
    let cutoff = 1_170_000;
    let end = old_run_end(&conn, cutoff, now).unwrap();
    let mut writes = vec![];
    loop {
        let n = prune(&conn, cutoff, end, 20).unwrap();
        writes.push(n);
        if n < 20 {
            break;
        }
    }
    assert_eq!(
        writes,
        [20, 20, 20, 11],
        "calls 100-169 and the second row of no account: 71"
    );
    let left = stored_log(&conn);
    let first_kept = left.iter().map(|e| e.id).min().unwrap();
    assert!(
        log.iter()
            .filter(|e| e.id < first_kept)
            .all(|e| e.at < cutoff),
        "nothing newer than the cutoff went"
    );
    assert_eq!(
        left.iter().filter(|e| e.at < cutoff).count(),
        6,
        "calls 179-229 wait"
    );
    assert_eq!(old_run_end(&conn, i64::MAX, i64::MAX).unwrap(), i64::MAX);
    prune(&conn, i64::MAX, i64::MAX, 10_000).unwrap();
    assert!(stored_log(&conn).is_empty());
    assert_eq!(
        blocks(&conn),
        Vec::<i64>::new(),
        "an empty log has no ranges"
    );
    assert_eq!(account_blocks(&conn), Vec::<i64>::new());
}

#[test]
fn a_call_stamped_in_the_future_does_not_end_the_prunes_run() {
    let conn = migrated();
    let ats = [1_000, 2_000, 1_000_000_000, 3_000, 9_000, 3_500];
    insert_many(&conn, &ats.map(|at| entry(at, Some(1), 200))).unwrap();
    // Now is 10,000: the call stamped at 1,000,000,000 came from a clock set ahead. The run
    // ends at the call of 9,000; the one of 3,500, answered after it, waits.
    let end = old_run_end(&conn, 4_000, 10_000).unwrap();
    assert_eq!(end, 5);
    assert_eq!(prune(&conn, 4_000, end, 100).unwrap(), 3);
    let left: Vec<i64> = stored_log(&conn).iter().map(|e| e.at).collect();
    assert_eq!(left, [3_500, 9_000, 1_000_000_000]);
    // With no call between the cutoff and now, every old call goes.
    let end = old_run_end(&conn, 4_000, 8_000).unwrap();
    assert_eq!(end, i64::MAX);
    assert_eq!(prune(&conn, 4_000, end, 100).unwrap(), 1);
}

#[test]
fn the_prune_reads_ranges_of_ids_not_the_whole_log() {
    let conn = migrated();
    let plan = |sql: &str| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let args = 1..=explain.parameter_count() as i64;
        explain
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let end = plan(OLD_RUN_END);
    assert!(
        end.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid>?)"),
        "{end}"
    );
    let prune = plan(PRUNE);
    assert!(
        prune.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid<?)"),
        "{prune}"
    );
    for p in [end, prune] {
        assert!(!p.contains("SCAN audit_log"), "{p}");
        assert!(!p.contains("INDEX"), "the log has no index of times: {p}");
    }
}

#[test]
fn the_migration_finds_the_ranges_of_rows_written_before_it() {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate_to(&mut conn, 8).unwrap();
    let mut stmt = conn
        .prepare(
            "INSERT INTO audit_log (at, account_id, token_id, method, path, status, ip, latency_us) \
             VALUES (?1, 1, ?2, 'GET', '/api/v1/leads', 200, '127.0.0.1', 1)",
        )
        .unwrap();
    for (at, token) in [(10, 1), (20, 2), (40, 1), (30, 1)] {
        stmt.execute(params![at, token]).unwrap();
    }
    skip_ids_to(&conn, 1 << BLOCK_BITS);
    stmt.execute(params![50, 2]).unwrap();
    drop(stmt);
    crate::store::migrate::migrate(&mut conn).unwrap();
    let ranges = stored_ranges(&conn);
    let next = (1 << BLOCK_BITS) + 1;
    assert_eq!(
        ranges,
        [
            (0, 1, 1, 4, 10, 40),
            (0, 2, 2, 2, 20, 20),
            (1, 2, next, next, 50, 50)
        ]
    );
    let ids = |token| -> Vec<i64> {
        list(
            &conn,
            &AuditFilter {
                token: Some(TokenId(token)),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
    };
    assert_eq!(ids(1), [4, 3, 1]);
    assert_eq!(ids(2), [next, 2]);
    // V13: the account's ranges, and those of the row of no account.
    assert_eq!(
        stored_account_ranges(&conn),
        [
            (0, 1, 1, 4, 10, 40),
            (1, 0, next - 1, next - 1, 0, 0),
            (1, 1, next, next, 50, 50)
        ]
    );
    let everyone = list(
        &conn,
        &AuditFilter {
            since: Some(15),
            until: Some(45),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(everyone.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 3, 2]);
}

/// A prune that empties the log does not start its ids again at 1 (`store::ids`): the next
/// write's rows follow the last ones, whole statements of many rows and single ones alike,
/// and their ranges find them.
#[test]
fn ids_go_on_after_a_prune_emptied_the_log() {
    let conn = migrated();
    let batch =
        |at: i64| -> Vec<AuditEntry> { (0..40).map(|i| entry(at + i, Some(i % 3), 200)).collect() };
    insert_many(&conn, &batch(1_000)).unwrap();
    let last: i64 = conn
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    let end = old_run_end(&conn, 1_000_000, 1_000_000).unwrap();
    assert_eq!(prune(&conn, 1_000_000, end, 1_000).unwrap(), 40);
    assert!(stored_log(&conn).is_empty());
    assert!(stored_ranges(&conn).is_empty());
    insert_many(&conn, &batch(2_000_000)).unwrap();
    let ids: Vec<i64> = stored_log(&conn).iter().rev().map(|e| e.id).collect();
    assert_eq!(ids, (last + 1..=last + 40).collect::<Vec<_>>());
    let page = list(
        &conn,
        &AuditFilter {
            token: Some(TokenId(1)),
            limit: 100,
            ..AuditFilter::default()
        },
    )
    .unwrap();
    let want: Vec<i64> = (0..40)
        .rev()
        .filter(|i| i % 3 == 1)
        .map(|i| last + 1 + i)
        .collect();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), want);
    // The next write follows as before.
    insert_many(&conn, &batch(3_000_000)[..1]).unwrap();
    let newest: i64 = conn
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(newest, last + 41);
}
