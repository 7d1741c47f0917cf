//! The audit log and per-token daily usage counters. Written in batches by the telemetry
//! flusher, read by the admin page and the CLI.

use rusqlite::{Connection, params, params_from_iter};
use serde::Serialize;

use super::StoreResult;
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

/// Appends entries.
pub fn insert_many(conn: &Connection, entries: &[AuditEntry]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit_log (at, account_id, token_id, token_prefix, user_id, method, path, status, code, ip, \
         latency_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for e in entries {
        stmt.execute(params![
            e.at,
            e.account_id,
            e.token_id,
            e.token_prefix,
            e.user_id,
            e.method,
            e.path,
            e.status,
            e.code,
            e.ip,
            e.latency_us
        ])?;
    }
    Ok(())
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
/// The statement names only the filters given, so SQLite can walk the `(token_id, id)` or
/// `(account_id, id)` index newest first: the generic `(?1 IS NULL OR token_id = ?1)` form
/// hides both and scans the whole log backwards for a rarely used token.
pub fn list(conn: &Connection, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
    let (sql, args) = list_query(f);
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
fn list_query(f: &AuditFilter) -> (String, Vec<i64>) {
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

/// Deletes at most `at_most` of the entries older than `cutoff` (ms), oldest first;
/// returns how many.
pub fn prune(conn: &Connection, cutoff: i64, at_most: usize) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM audit_log WHERE id IN \
           (SELECT id FROM audit_log WHERE at < ?1 ORDER BY at LIMIT ?2)",
        params![cutoff, at_most as i64],
    )?)
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
mod tests {
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
    fn a_token_or_account_filter_walks_its_index() {
        let conn = migrated();
        let plan = |f: AuditFilter| -> String {
            let (sql, args) = list_query(&AuditFilter { limit: 50, ..f });
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details = explain
                .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap();
            details.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let by_token = plan(AuditFilter {
            account: Some(AccountId(1)),
            token: Some(TokenId(7)),
            ..Default::default()
        });
        assert!(by_token.contains("INDEX audit_log_token"), "{by_token}");
        let by_account = plan(AuditFilter {
            account: Some(AccountId(1)),
            ..Default::default()
        });
        assert!(
            by_account.contains("INDEX audit_log_account"),
            "{by_account}"
        );
    }
}
