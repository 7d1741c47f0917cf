//! Turning a change into an outbox event, inside the change's own transaction (its
//! deliveries are made from it afterwards: `store::fanout`).

use rusqlite::Connection;
use serde::Serialize;

use crate::auth::random;
use crate::clock;
use crate::json_string;
use crate::model::{AccountId, EndpointId};
use crate::resources::{Change, Resource};
use crate::store::{StoreResult, webhooks};

/// A new message id, `msg_` + 27 base62 characters (8 of time, 19 random: see
/// `random::push_ordered_id`): the `webhook-id`, stable across retries. Unique by its 113
/// random bits; no index checks it (migration V18).
pub fn new_message_id() -> String {
    let mut id = String::with_capacity(4 + 8 + 19);
    id.push_str("msg_");
    random::push_ordered_id(&mut id, clock::now_ms(), 19);
    id
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

/// Queues `type` with `data` for exactly these endpoints; returns the event's id.
pub fn enqueue_to<T: Serialize>(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    data: T,
    endpoints: &[EndpointId],
) -> StoreResult<i64> {
    let data = serde_json::to_string(&data)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    enqueue_json(conn, account, kind, &data, endpoints)
}

/// Queues the event of a record change (`lead.created`, `job.deleted`, ...). `record` is the
/// record's JSON as the API shows it (`Resource::json`): the answer to a create or an update
/// is the same text, written once for both.
pub fn record_changed(
    conn: &Connection,
    account: AccountId,
    resource: &'static Resource,
    change: Change,
    record: &str,
) -> StoreResult<()> {
    let kind = resource.event_type(change);
    let endpoints = webhooks::subscribed_endpoints(conn, account, kind)?;
    if !endpoints.is_empty() {
        enqueue_json(conn, account, kind, record, &endpoints)?;
    }
    Ok(())
}

/// Queues `type` with `data`, already JSON, for these endpoints; returns the event's id.
fn enqueue_json(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    data: &str,
    endpoints: &[EndpointId],
) -> StoreResult<i64> {
    let now = clock::now_ms();
    webhooks::insert_event(
        conn,
        account,
        &new_message_id(),
        kind,
        &envelope(kind, now, data),
        endpoints,
        now,
    )
}

/// The body every delivery carries, per Standard Webhooks: `{"type", "timestamp", "data"}`,
/// around `data`, which is already JSON.
fn envelope(kind: &str, now: i64, data: &str) -> String {
    // 24 bytes of stamp, 36 of keys and punctuation, and the type's quotes.
    let mut out = String::with_capacity(data.len() + kind.len() + 24 + 38);
    out.push_str("{\"type\":");
    json_string::push(&mut out, kind);
    out.push_str(",\"timestamp\":\"");
    clock::push_ms(&mut out, now);
    out.push_str("\",\"data\":");
    out.push_str(data);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope is the JSON a serializer would write for it, with `data` in place.
    #[test]
    fn the_envelope_wraps_data_as_json() {
        let data = r#"{"id":7,"name":"Ann \"Jo\" Lee","tags":[1,2]}"#;
        let body = envelope("lead.created", 1_767_225_600_123, data);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "type": "lead.created",
                "timestamp": clock::format_ms(1_767_225_600_123),
                "data": serde_json::from_str::<serde_json::Value>(data).unwrap(),
            })
        );
        assert!(body.starts_with(r#"{"type":"lead.created","timestamp":""#));
        assert!(body.ends_with(&format!(r#","data":{data}}}"#)));
    }
}
