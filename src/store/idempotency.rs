//! Stored first answers to POSTs carrying an `Idempotency-Key`, written in the same
//! transaction as the change they report.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;
use crate::model::AccountId;

/// A stored answer.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    /// SHA-256 of the request it answered.
    pub request_hash: Vec<u8>,
    /// HTTP status.
    pub status: u16,
    /// Headers to replay, as a JSON object.
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

/// The answer stored under `key` in `account` since `since` (ms), if any.
pub fn find(
    conn: &Connection,
    account: AccountId,
    key: &str,
    since: i64,
) -> StoreResult<Option<StoredAnswer>> {
    Ok(conn
        .prepare_cached(
            "SELECT request_hash, status, headers, body FROM idempotency_keys \
             WHERE account_id = ?1 AND key = ?2 AND created_at >= ?3",
        )?
        .query_row(params![account, key, since], |r| {
            Ok(StoredAnswer {
                request_hash: r.get(0)?,
                status: r.get(1)?,
                headers: r.get(2)?,
                body: r.get(3)?,
            })
        })
        .optional()?)
}

/// Stores an answer; an expired answer under the same key gives way.
pub fn insert(
    conn: &Connection,
    account: AccountId,
    key: &str,
    answer: &StoredAnswer,
    expired_before: i64,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND created_at < ?3",
    )?
    .execute(params![account, key, expired_before])?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, status, headers, body, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        account,
        key,
        answer.request_hash,
        answer.status,
        answer.headers,
        answer.body,
        now
    ])?;
    Ok(())
}

/// Deletes answers stored before `before` (ms).
pub fn prune(conn: &Connection, before: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ?1",
        [before],
    )?)
}
