//! Appending calls to the audit log in multi-row inserts, and widening the id ranges of their
//! tokens and accounts that reading the log goes by.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::{Connection, Statement, params};

use super::{AuditEntry, BLOCK_BITS};
use crate::store::{StoreError, StoreResult};

/// Rows one insert statement carries. A statement run once per row spent a fifth of the
/// writer's time for a point read's audit row opening and closing its cursors and resetting;
/// a statement of many rows pays that once. Two statement shapes only (this many rows, and
/// one), so they take two places in the writer's statement cache, whatever the write's size
/// (a third, `INSERT_AT`, runs only after a prune emptied the log).
const ROWS_PER_INSERT: usize = 32;
/// The columns of an audit row as inserted: all but its id, which SQLite picks (but for
/// `INSERT_AT`'s).
const COLUMNS: usize = 11;

/// The insert of `ROWS_PER_INSERT` rows, and of one.
static INSERT_MANY: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_INSERT));
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));

/// Appends entries, and extends the ranges of their tokens and accounts in the blocks they
/// fall in (`audit_token_ranges` and `audit_account_ranges`, see migrations V9 and V13) in
/// the same transaction.
pub fn insert_many(conn: &Connection, entries: &[AuditEntry]) -> StoreResult<()> {
    // Each row's id is known before it is inserted, for its range: without AUTOINCREMENT,
    // SQLite gives a new row the largest id plus one, and nothing else writes the log while
    // the writer's transaction holds the write lock (the CLI only reads it). The ids are not
    // bound, though: SQLite checks that an id it is given is free with a search from the
    // root of the table, row by row (a third of the writer's time under point reads), where
    // an id it picks is found at the end its cursor already stands on.
    //
    // Once a prune has emptied the log, the next id SQLite picks would be 1 again: then the
    // first row goes in with the id after the log's floor (`store::ids`), and SQLite picks
    // the next ones after it.
    let (picked, after_floor): (i64, Option<i64>) = conn
        .prepare_cached(&NEXT_IDS)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let first = after_floor.unwrap_or(picked);
    let mut left = entries;
    if first > picked
        && let Some((e, after)) = entries.split_first()
    {
        let mut stmt = conn.prepare_cached(&INSERT_AT)?;
        stmt.raw_bind_parameter(1, first)?;
        bind_row(&mut stmt, 1, e)?;
        stmt.raw_execute()?;
        left = after;
    }
    let whole = left.len() / ROWS_PER_INSERT * ROWS_PER_INSERT;
    let (many, rest) = left.split_at(whole);
    if !many.is_empty() {
        let mut stmt = conn.prepare_cached(&INSERT_MANY)?;
        for chunk in many.chunks(ROWS_PER_INSERT) {
            for (k, e) in chunk.iter().enumerate() {
                bind_row(&mut stmt, k * COLUMNS, e)?;
            }
            stmt.raw_execute()?;
        }
    }
    if !rest.is_empty() {
        let mut stmt = conn.prepare_cached(&INSERT_ONE)?;
        for e in rest {
            bind_row(&mut stmt, 0, e)?;
            stmt.raw_execute()?;
        }
    }
    let last = first + entries.len() as i64 - 1;
    if !entries.is_empty() && conn.last_insert_rowid() != last {
        return Err(StoreError::Corrupt(format!(
            "audit rows were given ids up to {}, not up to {last}",
            conn.last_insert_rowid()
        )));
    }
    // (block, token) and (block, account) -> the ids and times of this write's calls there:
    // one or two per token and per account.
    let mut by_token = Ranges::default();
    let mut by_account = Ranges::default();
    for (id, e) in (first..).zip(entries) {
        let block = id >> BLOCK_BITS;
        if let Some(token) = e.token_id {
            Range::extend(&mut by_token, (block, token.0), id, e.at);
        }
        let account = e.account_id.map_or(NO_ACCOUNT, |a| a.0);
        Range::extend(&mut by_account, (block, account), id, e.at);
    }
    store_ranges(conn, "audit_token_ranges", "token_id", by_token)?;
    store_ranges(conn, "audit_account_ranges", "account_id", by_account)?;
    Ok(())
}

/// The account of the calls that named none, in `audit_account_ranges` (see migration V13).
pub(super) const NO_ACCOUNT: i64 = 0;

/// Widens the stored ranges of `table` (keyed by block and `key`) to take in `ranges`.
pub(super) fn store_ranges(
    conn: &Connection,
    table: &str,
    key: &str,
    ranges: Ranges,
) -> StoreResult<()> {
    let mut extend = conn.prepare_cached(&format!(
        "INSERT INTO {table} (block, {key}, first_id, last_id, first_at, last_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (block, {key}) DO UPDATE SET first_id = min(first_id, excluded.first_id), \
         last_id = max(last_id, excluded.last_id), first_at = min(first_at, excluded.first_at), \
         last_at = max(last_at, excluded.last_at)"
    ))?;
    for ((block, k), r) in ranges {
        extend.execute(params![
            block, k, r.first_id, r.last_id, r.first_at, r.last_at
        ])?;
    }
    Ok(())
}

/// Binds one row's values to the parameters after the first `base` ones.
fn bind_row(stmt: &mut Statement<'_>, base: usize, e: &AuditEntry) -> StoreResult<()> {
    let at = |column: usize| base + column;
    stmt.raw_bind_parameter(at(1), e.at)?;
    stmt.raw_bind_parameter(at(2), e.account_id)?;
    stmt.raw_bind_parameter(at(3), e.token_id)?;
    stmt.raw_bind_parameter(at(4), &e.token_prefix)?;
    stmt.raw_bind_parameter(at(5), e.user_id)?;
    stmt.raw_bind_parameter(at(6), &e.method)?;
    stmt.raw_bind_parameter(at(7), &e.path)?;
    stmt.raw_bind_parameter(at(8), e.status)?;
    stmt.raw_bind_parameter(at(9), &e.code)?;
    stmt.raw_bind_parameter(at(10), &e.ip)?;
    stmt.raw_bind_parameter(at(11), e.latency_us)?;
    Ok(())
}

/// The id SQLite would give the next row, and the one after the log's floor (`store::ids`)
/// while the floor is at or above the largest id.
static NEXT_IDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT coalesce(max(id), 0) + 1, {} FROM audit_log",
        crate::store::ids::next_id_sql("audit_log")
    )
});

/// The insert of one row with its id (`?1`), after the log's floor.
static INSERT_AT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO audit_log (id, at, account_id, token_id, token_prefix, user_id, method, \
         path, status, code, ip, latency_us) VALUES (?1, {})",
        ["?"; COLUMNS].join(", ")
    )
});

/// `INSERT INTO audit_log ... VALUES (...), (...)` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let row = format!("({})", ["?"; COLUMNS].join(", "));
    format!(
        "INSERT INTO audit_log (at, account_id, token_id, token_prefix, user_id, method, path, \
         status, code, ip, latency_us) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// (block, token or account) -> the range of its calls there. Hashed with foldhash: SipHash,
/// per row and key, was 0.6% of a point read's instructions; the keys are our own ids.
pub(super) type Ranges = HashMap<(i64, i64), Range, foldhash::fast::RandomState>;

/// A token's or an account's calls within one block: their ids and times.
pub(super) struct Range {
    first_id: i64,
    last_id: i64,
    first_at: i64,
    last_at: i64,
}

impl Range {
    /// Adds the call `id`, made at `at`, to the range of `key` in `ranges`.
    pub(super) fn extend(ranges: &mut Ranges, key: (i64, i64), id: i64, at: i64) {
        ranges
            .entry(key)
            .and_modify(|r| {
                r.first_id = r.first_id.min(id);
                r.last_id = r.last_id.max(id);
                r.first_at = r.first_at.min(at);
                r.last_at = r.last_at.max(at);
            })
            .or_insert(Range {
                first_id: id,
                last_id: id,
                first_at: at,
                last_at: at,
            });
    }
}
