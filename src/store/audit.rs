//! The audit log and per-token daily usage counters. Written in batches by the telemetry
//! flusher, read by the admin page and the CLI.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Statement, params, params_from_iter};
use serde::Serialize;

use super::{StoreError, StoreResult};
use crate::model::{AccountId, TokenId, UserId};

/// One `/api/v1` call.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Row id (0 before insertion).
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// The token's account, when a token was identified.
    pub account_id: Option<AccountId>,
    /// The token, when identified.
    pub token_id: Option<TokenId>,
    /// Its prefix.
    pub token_prefix: Option<String>,
    /// Its user.
    pub user_id: Option<UserId>,
    /// HTTP method.
    pub method: String,
    /// Path (no query string: it could carry anything).
    pub path: String,
    /// Answer status.
    pub status: u16,
    /// The problem code of a refused call.
    pub code: Option<String>,
    /// Caller address.
    pub ip: String,
    /// Time to answer (µs).
    pub latency_us: i64,
}

/// The ids of a block, the unit of `audit_token_ranges` and `audit_account_ranges` (see
/// migrations V9 and V13), as a shift: 16,384.
const BLOCK_BITS: u32 = 14;

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
    let mut by_token: HashMap<(i64, i64), Range> = HashMap::new();
    let mut by_account: HashMap<(i64, i64), Range> = HashMap::new();
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
const NO_ACCOUNT: i64 = 0;

/// Widens the stored ranges of `table` (keyed by block and `key`) to take in `ranges`.
fn store_ranges(
    conn: &Connection,
    table: &str,
    key: &str,
    ranges: HashMap<(i64, i64), Range>,
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
        super::ids::next_id_sql("audit_log")
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

/// A token's or an account's calls within one block: their ids and times.
struct Range {
    first_id: i64,
    last_id: i64,
    first_at: i64,
    last_at: i64,
}

impl Range {
    /// Adds the call `id`, made at `at`, to the range of `key` in `ranges`.
    fn extend(ranges: &mut HashMap<(i64, i64), Range>, key: (i64, i64), id: i64, at: i64) {
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

/// Filters for reading the log; newest first, `before` continues a page.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only this account's calls.
    pub account: Option<AccountId>,
    /// Only this token's calls.
    pub token: Option<TokenId>,
    /// Only calls of these tokens' user.
    pub user: Option<UserId>,
    /// Only this status.
    pub status: Option<u16>,
    /// At or after (ms).
    pub since: Option<i64>,
    /// Before (ms).
    pub until: Option<i64>,
    /// Rows with a smaller id than this (paging).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// One page of the log, newest first.
///
/// A token's or an account's calls are read through their id ranges (`RANGES_OF_TOKEN`,
/// `RANGES_OF_ACCOUNT`), and a time window through the ranges of all accounts (`window`):
/// the log has no index but its ids. The statement names only the filters given.
pub fn list(conn: &Connection, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
    let (since, until) = (f.since.unwrap_or(i64::MIN), f.until.unwrap_or(i64::MAX));
    let ranges = match (f.token, f.account) {
        (Some(token), _) => ranges(conn, RANGES_OF_TOKEN, token.0, since, until)?,
        (None, Some(account)) => ranges(conn, RANGES_OF_ACCOUNT, account.0, since, until)?,
        (None, None) if f.since.is_some() || f.until.is_some() => {
            window(conn, since, until)?.into_iter().collect()
        }
        (None, None) => return page(conn, f, None),
    };
    // Each range is read newest first down to its first id, below every range read before
    // it: rows come out in id order, none twice. (A token's or an account's ranges lie in
    // distinct blocks and do not overlap; the walk would stay right if they did.)
    let mut rows = Vec::new();
    let mut below = f.before_id.unwrap_or(i64::MAX);
    for (first, last) in ranges {
        let wanted = (f.limit as usize).saturating_sub(rows.len());
        if wanted == 0 {
            break;
        }
        if first >= below {
            continue;
        }
        let part = AuditFilter {
            before_id: Some(below.min(last.saturating_add(1))),
            limit: wanted as u32,
            ..f.clone()
        };
        rows.extend(page(conn, &part, Some(first))?);
        below = first;
    }
    Ok(rows)
}

/// A token's id ranges, one per block of the log it made calls in (migration V9).
const RANGES_OF_TOKEN: &str = "SELECT first_id, last_id FROM audit_token_ranges \
     WHERE token_id = ?1 AND last_at >= ?2 AND first_at < ?3";
/// An account's id ranges, one per block of the log it made calls in (migration V13).
const RANGES_OF_ACCOUNT: &str = "SELECT first_id, last_id FROM audit_account_ranges \
     WHERE account_id = ?1 AND last_at >= ?2 AND first_at < ?3";

/// The id ranges `sql` gives for `key` whose times meet `[since, until)`; latest-ending
/// first.
fn ranges(
    conn: &Connection,
    sql: &str,
    key: i64,
    since: i64,
    until: i64,
) -> StoreResult<Vec<(i64, i64)>> {
    let mut ranges = conn
        .prepare_cached(sql)?
        .query_map(params![key, since, until], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    ranges.sort_unstable_by_key(|&(first, last)| std::cmp::Reverse((last, first)));
    Ok(ranges)
}

/// The ids between the first and the last call whose times may meet `[since, until)`, of
/// any account; `None` when no call's can.
fn window(conn: &Connection, since: i64, until: i64) -> StoreResult<Option<(i64, i64)>> {
    let bounds: (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT min(first_id), max(last_id) FROM audit_account_ranges \
             WHERE last_at >= ?1 AND first_at < ?2",
        )?
        .query_row([since, until], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(bounds.0.zip(bounds.1))
}

/// The rows `f` selects with an id of at least `from_id`, newest first.
fn page(conn: &Connection, f: &AuditFilter, from_id: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
    let (sql, args) = list_query(f, from_id);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                account_id: r.get(2)?,
                token_id: r.get(3)?,
                token_prefix: r.get(4)?,
                user_id: r.get(5)?,
                method: r.get(6)?,
                path: r.get(7)?,
                status: r.get(8)?,
                code: r.get(9)?,
                ip: r.get(10)?,
                latency_us: r.get(11)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The statement of `list` and its arguments.
fn list_query(f: &AuditFilter, from_id: Option<i64>) -> (String, Vec<i64>) {
    let mut sql = String::from(
        "SELECT id, at, account_id, token_id, token_prefix, user_id, method, path, status, code, ip, latency_us \
         FROM audit_log WHERE 1",
    );
    let mut args = Vec::new();
    let filters = [
        ("account_id =", f.account.map(|a| a.0)),
        ("token_id =", f.token.map(|t| t.0)),
        ("user_id =", f.user.map(|u| u.0)),
        ("status =", f.status.map(i64::from)),
        ("at >=", f.since),
        ("at <", f.until),
        ("id <", f.before_id),
        ("id >=", from_id),
    ];
    for (test, value) in filters {
        if let Some(v) = value {
            args.push(v);
            sql.push_str(&format!(" AND {test} ?{}", args.len()));
        }
    }
    // Bound, not a literal: each limit would be a statement of its own in the connection's
    // small statement cache, pushing out the API's. (A bound limit is planned again at each
    // run, which a page of the log can afford.)
    args.push(i64::from(f.limit));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
    (sql, args)
}

/// Where the run of entries older than `cutoff` (ms) ends: the id of the first entry stamped
/// between the cutoff and `now`, `i64::MAX` when none is. Entries are inserted in id order,
/// stamped with their call's time, so the old ones are the ids below it (the log has no
/// index of times, see migration V13). A call answered late may sit just after one stamped
/// later: it goes with the next run. One stamped in the future (a clock set ahead, then
/// back) does not end the run.
///
/// The walk to that entry starts at the first range (of any account) that may hold it:
/// within a block of it, not at the oldest entry left.
pub fn old_run_end(conn: &Connection, cutoff: i64, now: i64) -> StoreResult<i64> {
    let end: Option<i64> = conn
        .prepare_cached(OLD_RUN_END)?
        .query_row([cutoff, now], |r| r.get(0))
        .optional()?;
    Ok(end.unwrap_or(i64::MAX))
}

const OLD_RUN_END: &str = "SELECT id FROM audit_log \
     WHERE id >= (SELECT min(first_id) FROM audit_account_ranges \
                  WHERE last_at >= ?1 AND first_at <= ?2) \
       AND at >= ?1 AND at <= ?2 \
     ORDER BY id LIMIT 1";

/// At most `?3` entries older than `?1`, smallest ids first, among the ids below `?2`.
const PRUNE: &str = "DELETE FROM audit_log WHERE id IN \
       (SELECT id FROM audit_log WHERE id < ?2 AND at < ?1 ORDER BY id LIMIT ?3)";

/// Deletes at most `at_most` of the entries older than `cutoff` (ms) below `run_end` (see
/// `old_run_end`), oldest first, and the ranges left with no row; returns how many entries.
/// The run's end holds while the log grows: it is found once, then pruned up to in writes
/// of a bounded size.
///
/// A range goes once every id it covers is below the oldest entry left. Entries that wait
/// for a later run hold theirs (reading them finds nothing).
pub fn prune(conn: &Connection, cutoff: i64, run_end: i64, at_most: usize) -> StoreResult<usize> {
    let n = conn
        .prepare_cached(PRUNE)?
        .execute(params![cutoff, run_end, at_most as i64])?;
    let oldest: Option<i64> = conn.query_row("SELECT min(id) FROM audit_log", [], |r| r.get(0))?;
    for table in ["audit_token_ranges", "audit_account_ranges"] {
        match oldest {
            Some(id) => conn.execute(
                &format!("DELETE FROM {table} WHERE block <= ?1 AND last_id < ?2"),
                params![id >> BLOCK_BITS, id],
            )?,
            None => conn.execute(&format!("DELETE FROM {table}"), [])?,
        };
    }
    Ok(n)
}

/// A day's counters for one token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Calls answered 2xx/3xx.
    pub ok: i64,
    /// Calls answered 4xx/5xx other than 429.
    pub errors: i64,
    /// Calls answered 429.
    pub rate_limited: i64,
}

/// Adds to a token's counters for a day.
pub fn add_usage(
    conn: &Connection,
    token: TokenId,
    day: &str,
    requests: i64,
    errors: i64,
    limited: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO token_usage_daily (token_id, day, requests, errors, rate_limited) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (token_id, day) DO UPDATE SET requests = requests + ?3, errors = errors + ?4, \
         rate_limited = rate_limited + ?5",
    )?
    .execute(params![token, day, requests, errors, limited])?;
    Ok(())
}

/// A token's counters from `since_day` on, oldest first.
pub fn usage(conn: &Connection, token: TokenId, since_day: &str) -> StoreResult<Vec<DailyUsage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, requests - errors - rate_limited, errors, rate_limited FROM token_usage_daily \
         WHERE token_id = ?1 AND day >= ?2 ORDER BY day",
    )?;
    let rows = stmt
        .query_map(params![token, since_day], |r| {
            Ok(DailyUsage {
                day: r.get(0)?,
                ok: r.get(1)?,
                errors: r.get(2)?,
                rate_limited: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Records that a token was seen from `ip` at `at`; true when the address was not seen in
/// the `window_ms` before (a new address).
pub fn note_ip(
    conn: &Connection,
    token: TokenId,
    ip: &str,
    at: i64,
    window_ms: i64,
) -> StoreResult<bool> {
    let previous: Option<i64> = conn
        .prepare_cached("SELECT last_seen FROM token_seen_ips WHERE token_id = ?1 AND ip = ?2")?
        .query_row(params![token, ip], |r| r.get(0))
        .ok();
    conn.prepare_cached(
        "INSERT INTO token_seen_ips (token_id, ip, last_seen) VALUES (?1, ?2, ?3) \
         ON CONFLICT (token_id, ip) DO UPDATE SET last_seen = max(last_seen, ?3)",
    )?
    .execute(params![token, ip, at])?;
    Ok(previous.is_none_or(|p| at - p > window_ms))
}

/// Forgets addresses not seen since `cutoff` (ms).
pub fn prune_seen_ips(conn: &Connection, cutoff: i64) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM token_seen_ips WHERE last_seen < ?1", [cutoff])?)
}

#[cfg(test)]
mod tests;
