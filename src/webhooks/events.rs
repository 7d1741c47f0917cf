//! Turning a change into an outbox event, inside the change's own transaction.

use rusqlite::Connection;
use serde::Serialize;

use crate::auth::random;
use crate::clock;
use crate::model::{AccountId, EndpointId};
use crate::resources::{Change, Resource};
use crate::store::records::Row;
use crate::store::{StoreResult, webhooks};

/// The body every delivery carries, per Standard Webhooks.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: T,
}

/// A new message id, `msg_` + 27 base62 characters (8 of time, 19 random: see
/// `random::ordered_id`): the `webhook-id`, stable across retries.
pub fn new_message_id() -> String {
    format!("msg_{}", random::ordered_id(clock::now_ms(), 19))
}

/// Queues `type` with `data` for every endpoint of the account subscribed to it.
pub fn enqueue<T: Serialize>(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    data: T,
) -> StoreResult<usize> {
    let endpoints = webhooks::subscribed_endpoints(conn, account, kind)?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    enqueue_to(conn, account, kind, data, &endpoints)?;
    Ok(endpoints.len())
}

/// Queues `type` with `data` for exactly these endpoints (`(id, enabled)`); returns the
/// event's id.
pub fn enqueue_to<T: Serialize>(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    data: T,
    endpoints: &[(EndpointId, bool)],
) -> StoreResult<i64> {
    let now = clock::now_ms();
    let payload = serde_json::to_string(&Envelope {
        kind,
        timestamp: clock::format_ms(now),
        data,
    })
    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    webhooks::insert_event(
        conn,
        account,
        &new_message_id(),
        kind,
        &payload,
        endpoints,
        now,
    )
}

/// Queues the event of a record change (`lead.created`, `job.deleted`, ...).
pub fn record_changed(
    conn: &Connection,
    account: AccountId,
    resource: &'static Resource,
    change: Change,
    row: &Row,
) -> StoreResult<()> {
    enqueue(
        conn,
        account,
        &resource.event_type(change),
        resource.view(row),
    )
    .map(|_| ())
}
