//! Reading the audit log a page at a time, newest first, through the id ranges of a token,
//! an account or a time window.

use std::borrow::Cow;

use rusqlite::{Connection, params, params_from_iter};

use super::AuditEntry;
use crate::model::{AccountId, TokenId, UserId};
use crate::store::StoreResult;

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
pub(super) const RANGES_OF_TOKEN: &str = "SELECT first_id, last_id FROM audit_token_ranges \
     WHERE token_id = ?1 AND last_at >= ?2 AND first_at < ?3";
/// An account's id ranges, one per block of the log it made calls in (migration V13).
pub(super) const RANGES_OF_ACCOUNT: &str = "SELECT first_id, last_id FROM audit_account_ranges \
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
                method: Cow::Owned(r.get(6)?),
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
pub(super) fn list_query(f: &AuditFilter, from_id: Option<i64>) -> (String, Vec<i64>) {
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
