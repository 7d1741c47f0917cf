//! Per-token daily usage counters, and the addresses each token was seen from.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::model::TokenId;
use crate::store::StoreResult;

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
