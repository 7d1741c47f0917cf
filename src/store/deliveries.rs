//! Webhook deliveries: listing and re-queueing them for people, and pausing and resuming an
//! endpoint's; claiming them with a lease (`claims`) and recording each attempt (`outcomes`)
//! for the worker, and pruning them after the retention period (`prune`).

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;
use crate::model::{AccountId, EndpointId};

mod claims;
mod outcomes;
mod prune;

pub use claims::{Admission, Claimed, claim, next_due, release_leases};
pub use outcomes::{Attempt, AttemptRow, attempts, record_attempt};
pub use prune::{PruneStep, prune_deliveries, prune_events};

/// Every status a delivery can have.
pub const STATUSES: [&str; 5] = ["pending", "delivered", "failed", "dead", "paused"];

/// The condition of the claim index `webhook_deliveries_unsent` (V10). A statement meant to
/// use the index carries it word for word (the claim, next-due, pause, resume and the outbox
/// count; tests check their plans): SQLite uses a partial index only for a query whose WHERE
/// clause visibly implies the index's.
pub const UNSENT: &str = "status <> 'delivered'";

/// A delivery as stored, with its event's type and message id.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The endpoint it goes to.
    pub endpoint_id: EndpointId,
    /// The endpoint's account.
    pub account_id: AccountId,
    /// Event type (`lead.created`, ...).
    pub event_type: String,
    /// The `webhook-id`, the same for every attempt.
    pub msg_id: String,
    /// `pending`, `delivered`, `failed` (a retry is scheduled), `dead` or `paused`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (ms).
    pub next_attempt_at: i64,
    /// Claimed by a sender until then (ms).
    pub lease_until: Option<i64>,
    /// HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The first KiB of the last answer.
    pub last_response: Option<String>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// When its state last changed (ms): queued, attempted, re-queued or parked; taking a
    /// lease to send it does not count.
    pub updated_at: i64,
    /// The endpoint's account's name, for lists of several accounts.
    pub account_name: String,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, e.account_id, ev.type, ev.msg_id, d.status, \
     d.attempts, d.next_attempt_at, d.lease_until, d.last_status, d.last_error, d.last_response, \
     d.last_latency_ms, d.created_at, d.updated_at, a.name \
     FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN accounts a ON a.id = e.account_id";

fn delivery_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        endpoint_id: r.get(1)?,
        account_id: r.get(2)?,
        event_type: r.get(3)?,
        msg_id: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        lease_until: r.get(8)?,
        last_status: r.get(9)?,
        last_error: r.get(10)?,
        last_response: r.get(11)?,
        last_latency_ms: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        account_name: r.get(15)?,
    })
}

/// Deliveries, newest first, filtered by account, endpoint and status. Newest by their event:
/// during a burst the deliveries of its events are made after it (`fanout`), and a test
/// delivery, made at once, would otherwise list below them. The index of events serves the
/// order as the table's ids did.
pub fn list(
    conn: &Connection,
    account: Option<AccountId>,
    endpoint: Option<EndpointId>,
    status: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DELIVERY_SELECT} WHERE (?1 IS NULL OR e.account_id = ?1) AND (?2 IS NULL OR d.endpoint_id = ?2) \
         AND (?3 IS NULL OR d.status = ?3) ORDER BY d.event_id DESC, d.id DESC LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(params![account, endpoint, status, limit], delivery_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One delivery.
pub fn find(conn: &Connection, id: i64) -> StoreResult<Option<Delivery>> {
    Ok(conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE d.id = ?1"),
            [id],
            delivery_from_row,
        )
        .optional()?)
}

/// Queues a delivery again now, whatever its state, with a fresh retry schedule: `pending`,
/// or `paused` while its endpoint is disabled.
pub fn requeue(conn: &Connection, id: i64, now: i64) -> StoreResult<bool> {
    super::writer::note_events_queued();
    let n = conn.execute(
        "UPDATE webhook_deliveries SET \
           status = CASE WHEN (SELECT enabled FROM webhook_endpoints e WHERE e.id = endpoint_id) \
                         THEN 'pending' ELSE 'paused' END, \
           next_attempt_at = ?2, lease_until = NULL, attempt_base = attempts, updated_at = ?2 \
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(n == 1)
}

const PAUSE: &str = "UPDATE webhook_deliveries SET status = 'paused', updated_at = ?2 \
     WHERE endpoint_id = ?1 AND status IN ('pending', 'failed') AND status <> 'delivered'";

const RESUME: &str = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?2, \
       attempt_base = attempts, lease_until = NULL, updated_at = ?2 \
     WHERE endpoint_id = ?1 AND status = 'paused' AND status <> 'delivered'";

/// Parks an endpoint's waiting deliveries while it is disabled.
pub fn pause_endpoint(conn: &Connection, endpoint: EndpointId, now: i64) -> StoreResult<usize> {
    Ok(conn.execute(PAUSE, params![endpoint, now])?)
}

/// Sends an endpoint's parked deliveries now, with a fresh retry schedule.
pub fn resume_endpoint(conn: &Connection, endpoint: EndpointId, now: i64) -> StoreResult<usize> {
    super::writer::note_events_queued();
    Ok(conn.execute(RESUME, params![endpoint, now])?)
}

/// The delivery of an event to one endpoint.
pub fn find_for_event(
    conn: &Connection,
    event_id: i64,
    endpoint: EndpointId,
) -> StoreResult<Option<Delivery>> {
    Ok(conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE d.event_id = ?1 AND d.endpoint_id = ?2"),
            params![event_id, endpoint],
            delivery_from_row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests;
