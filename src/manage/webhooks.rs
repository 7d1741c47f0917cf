//! Webhook endpoints: add, list, remove.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::Connection;

use super::views::{AttemptView, DeliveryView};
use super::{ManageError, ManageResult, accounts};
use crate::auth::random;
use crate::clock;
use crate::model::{AccountId, EndpointId};
use crate::resources::RESOURCES;
use crate::store::deliveries::{self, Delivery};
use crate::store::fanout;
use crate::store::webhooks::{self as store, Endpoint};
use crate::webhooks::events;

/// Token lifecycle events an endpoint may subscribe to.
pub const TOKEN_EVENTS: [&str; 5] = [
    "token.created",
    "token.revoked",
    "token.expiring_soon",
    "token.new_ip",
    "token.rate_limited",
];

/// Every event type an endpoint may name (besides `*`).
pub fn event_types() -> Vec<String> {
    let mut out = Vec::new();
    for r in RESOURCES {
        out.extend(r.events.iter().map(|e| (*e).to_owned()));
    }
    out.extend(TOKEN_EVENTS.iter().map(|s| (*s).to_owned()));
    out
}

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("whsec_{}", STANDARD.encode(random::bytes(32)))
}

fn check_url(url: &str) -> ManageResult<()> {
    let bad = || ManageError::Invalid(format!("`{url}` is not an http(s) URL"));
    if url.len() > 2_000 {
        return Err(ManageError::Invalid(
            "the URL is longer than 2000 characters".into(),
        ));
    }
    let uri: actix_web::http::Uri = url.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(()),
        _ => Err(bad()),
    }
}

fn check_events(events: &[String]) -> ManageResult<Vec<String>> {
    if events.is_empty() {
        return Err(ManageError::Invalid(
            "subscribe to at least one event type (or `*`)".into(),
        ));
    }
    let known = event_types();
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim();
        if e != "*" && !known.iter().any(|k| k == e) {
            return Err(ManageError::Invalid(format!(
                "`{e}` is not an event type; known: * {}",
                known.join(" ")
            )));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_owned());
        }
    }
    Ok(out)
}

/// A newly added endpoint, with its secret (shown once).
pub struct AddedEndpoint {
    /// The endpoint.
    pub endpoint: Endpoint,
}

/// Adds an endpoint to an account.
pub fn add(
    conn: &Connection,
    account: &str,
    url: &str,
    events: &[String],
    description: Option<&str>,
) -> ManageResult<AddedEndpoint> {
    check_url(url)?;
    let events = check_events(events)?;
    let account = accounts::require(conn, account)?;
    let id = store::insert_endpoint(
        conn,
        account.id,
        url,
        description,
        &events,
        &new_secret(),
        clock::now_ms(),
    )?;
    Ok(AddedEndpoint {
        endpoint: require(conn, id)?,
    })
}

/// Finds an endpoint.
pub fn require(conn: &Connection, id: EndpointId) -> ManageResult<Endpoint> {
    store::find_endpoint(conn, id)?
        .ok_or_else(|| ManageError::NotFound(format!("no webhook endpoint with id {id}")))
}

/// Removes an endpoint and its deliveries.
pub fn remove(conn: &Connection, id: EndpointId) -> ManageResult<()> {
    if store::delete_endpoint(conn, id)? {
        Ok(())
    } else {
        Err(ManageError::NotFound(format!(
            "no webhook endpoint with id {id}"
        )))
    }
}

/// How long a rotated-out secret keeps signing alongside the new one.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

/// The most deliveries one listing shows.
pub const MAX_DELIVERY_LIST: u32 = 1_000;

/// Deliveries, newest first, filtered by account, endpoint and status.
pub fn list_deliveries(
    conn: &Connection,
    account: Option<AccountId>,
    endpoint: Option<EndpointId>,
    status: Option<&str>,
    limit: u32,
) -> ManageResult<Vec<DeliveryView>> {
    if let Some(s) = status
        && !deliveries::STATUSES.contains(&s)
    {
        return Err(ManageError::Invalid(format!(
            "`{s}` is not a delivery status; one of: {}",
            deliveries::STATUSES.join(", ")
        )));
    }
    if let Some(e) = endpoint {
        require(conn, e)?;
    }
    let list = deliveries::list(
        conn,
        account,
        endpoint,
        status,
        limit.clamp(1, MAX_DELIVERY_LIST),
    )?;
    Ok(list.iter().map(DeliveryView::from).collect())
}

/// Finds a delivery.
pub fn require_delivery(conn: &Connection, id: i64) -> ManageResult<Delivery> {
    deliveries::find(conn, id)?
        .ok_or_else(|| ManageError::NotFound(format!("no webhook delivery with id {id}")))
}

/// Sends a delivery again, whatever its state (dead ones too), with the same `webhook-id`
/// and a fresh retry schedule. While its endpoint is disabled it waits, paused.
pub fn replay(conn: &Connection, delivery_id: i64) -> ManageResult<DeliveryView> {
    let d = require_delivery(conn, delivery_id)?;
    let now = clock::now_ms();
    if d.lease_until.is_some_and(|l| l > now) {
        return Err(ManageError::Conflict(format!(
            "delivery {delivery_id} is being sent right now; replay it once that attempt ends"
        )));
    }
    deliveries::requeue(conn, delivery_id, now)?;
    Ok(DeliveryView::from(&require_delivery(conn, delivery_id)?))
}

/// Enables or disables an endpoint. Disabling parks its waiting deliveries (`paused`);
/// enabling sends every parked one.
pub fn set_enabled(conn: &Connection, id: EndpointId, enabled: bool) -> ManageResult<Endpoint> {
    let reason = (!enabled).then_some("disabled by an operator");
    change_enabled(conn, id, enabled, reason)
}

/// Enables or disables an endpoint with a reason and moves its deliveries accordingly. (The
/// delivery worker disables for 410 and for days of failures with its own write,
/// `webhooks::outcome`, which disables only an endpoint still enabled.)
fn change_enabled(
    conn: &Connection,
    id: EndpointId,
    enabled: bool,
    reason: Option<&str>,
) -> ManageResult<Endpoint> {
    require(conn, id)?;
    let now = clock::now_ms();
    store::set_enabled(conn, id, enabled, reason, now)?;
    if enabled {
        deliveries::resume_endpoint(conn, id, now)?;
    } else {
        deliveries::pause_endpoint(conn, id, now)?;
    }
    require(conn, id)
}

/// Gives an endpoint a new signing secret (returned in the endpoint, to be shown once). The
/// old one keeps signing alongside it for 24 hours, so the receiver can switch over.
pub fn rotate_secret(conn: &Connection, id: EndpointId) -> ManageResult<Endpoint> {
    require(conn, id)?;
    let now = clock::now_ms();
    store::rotate_secret(conn, id, &new_secret(), now + ROTATION_OVERLAP_MS, now)?;
    require(conn, id)
}

/// Queues a `webhook.test` event to this endpoint only.
pub fn send_test(conn: &Connection, id: EndpointId) -> ManageResult<DeliveryView> {
    let e = require(conn, id)?;
    let data = serde_json::json!({
        "endpoint_id": e.id,
        "message": "A test delivery from Switchboard.",
    });
    // Queued for no endpoint, with its one delivery made now rather than by the worker, so
    // that it can be shown without making (or waiting for) the deliveries of every event
    // before it: after a burst, a backlog of hundreds of thousands.
    let event = events::enqueue_to(conn, e.account_id, TEST_EVENT, data, &[])?;
    fanout::make_now(conn, event, e.id, e.enabled, clock::now_ms())?;
    let d = deliveries::find_for_event(conn, event, e.id)?
        .ok_or_else(|| ManageError::NotFound("the test delivery vanished".into()))?;
    Ok(DeliveryView::from(&d))
}

/// The event type of a test delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// Every attempt at a delivery, oldest first (pruned with the delivery).
pub fn delivery_attempts(conn: &Connection, delivery_id: i64) -> ManageResult<Vec<AttemptView>> {
    require_delivery(conn, delivery_id)?;
    let list = deliveries::attempts(conn, delivery_id)?;
    Ok(list.iter().map(AttemptView::from).collect())
}
