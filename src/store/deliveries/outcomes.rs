//! Recording what each attempt at a delivery came to, and reading the attempts back.

use rusqlite::{Connection, params};

use super::Claimed;
use crate::store::StoreResult;

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it started (ms).
    pub at: i64,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub response: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// Records an attempt and the delivery's new state: `status` (`delivered`, `failed`, `dead`
/// or `paused`) and, for `failed`, when to try again. False, and nothing written, when the
/// delivery is gone: its endpoint was removed while the attempt was in flight, and the
/// attempt has nothing left to belong to.
///
/// The delivery is found by its id, event and endpoint together. A delivery is sent as soon
/// as it is made and leased, before that write commits (`Writer::write_uncommitted`); were
/// that transaction lost, its ids would be handed out again, and could go to other events'
/// deliveries (one whose endpoint was removed meanwhile gets none): the attempt then belongs
/// to no delivery, rather than to one that was never sent.
pub fn record_attempt(
    conn: &Connection,
    c: &Claimed,
    attempt: &Attempt,
    status: &str,
    next_attempt_at: i64,
    now: i64,
) -> StoreResult<bool> {
    let updated = conn.prepare_cached(
        "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3, \
           lease_until = NULL, last_status = ?4, last_error = ?5, last_response = ?6, \
           last_latency_ms = ?7, updated_at = ?8 \
         WHERE id = ?1 AND event_id = ?9 AND endpoint_id = ?10",
    )?
    .execute(params![
        c.id,
        status,
        next_attempt_at,
        attempt.status,
        attempt.error,
        attempt.response,
        attempt.latency_ms,
        now,
        c.event_id,
        c.endpoint_id
    ])?;
    if updated == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status, error, latency_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        c.id,
        attempt.at,
        attempt.status,
        attempt.error,
        attempt.latency_ms
    ])?;
    Ok(true)
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// When (ms).
    pub attempted_at: i64,
    /// HTTP status, if an answer came.
    pub status: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// Every attempt of a delivery, oldest first.
pub fn attempts(conn: &Connection, delivery: i64) -> StoreResult<Vec<AttemptRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempted_at, status, error, latency_ms FROM webhook_attempts \
         WHERE delivery_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([delivery], |r| {
            Ok(AttemptRow {
                attempted_at: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
                latency_ms: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
