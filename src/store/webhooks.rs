//! Webhook endpoints, the outbox of events, and deliveries.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreResult, parse_string_list, string_list};
use crate::model::{AccountId, EndpointId};

/// An endpoint as stored (secrets included: callers decide what to show).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Id.
    pub id: EndpointId,
    /// Account.
    pub account_id: AccountId,
    /// Where deliveries go.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// Subscribed event types (`*` for all).
    pub events: Vec<String>,
    /// Current signing secret.
    pub secret: String,
    /// The secret before the last rotation, still used until `previous_until`.
    pub previous_secret: Option<String>,
    /// End of the rotation overlap (ms).
    pub previous_until: Option<i64>,
    /// Whether deliveries go out.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Created (ms).
    pub created_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, account_id, url, description, events, secret, previous_secret, previous_until, \
                                enabled, disabled_reason, created_at";

fn endpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Endpoint, String)> {
    Ok((
        Endpoint {
            id: r.get(0)?,
            account_id: r.get(1)?,
            url: r.get(2)?,
            description: r.get(3)?,
            events: Vec::new(),
            secret: r.get(5)?,
            previous_secret: r.get(6)?,
            previous_until: r.get(7)?,
            enabled: r.get(8)?,
            disabled_reason: r.get(9)?,
            created_at: r.get(10)?,
        },
        r.get(4)?,
    ))
}

fn decode_endpoint((mut e, events): (Endpoint, String)) -> StoreResult<Endpoint> {
    e.events = parse_string_list(&events)?;
    Ok(e)
}

/// Inserts an endpoint.
pub fn insert_endpoint(
    conn: &Connection,
    account: AccountId,
    url: &str,
    description: Option<&str>,
    events: &[String],
    secret: &str,
    now: i64,
) -> StoreResult<EndpointId> {
    conn.execute(
        "INSERT INTO webhook_endpoints (account_id, url, description, events, secret, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![account, url, description, string_list(events), secret, now],
    )?;
    Ok(EndpointId(conn.last_insert_rowid()))
}

/// Finds an endpoint by id.
pub fn find_endpoint(conn: &Connection, id: EndpointId) -> StoreResult<Option<Endpoint>> {
    let row = conn
        .query_row(
            &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
            [id],
            endpoint_from_row,
        )
        .optional()?;
    row.map(decode_endpoint).transpose()
}

/// Endpoints of one account, or of all.
pub fn list_endpoints(conn: &Connection, account: Option<AccountId>) -> StoreResult<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE (?1 IS NULL OR account_id = ?1) ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([account], endpoint_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode_endpoint).collect()
}

/// Deletes an endpoint and its deliveries.
pub fn delete_endpoint(conn: &Connection, id: EndpointId) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])? == 1)
}

/// The ids of the account's endpoints subscribed to `kind` (enabled or not: a disabled
/// endpoint's deliveries wait, paused).
pub fn subscribed_endpoints(
    conn: &Connection,
    account: AccountId,
    kind: &str,
) -> StoreResult<Vec<(EndpointId, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.enabled FROM webhook_endpoints e WHERE e.account_id = ?1 \
         AND EXISTS (SELECT 1 FROM json_each(e.events) j WHERE j.value = ?2 OR j.value = '*')",
    )?;
    let rows = stmt
        .query_map(params![account, kind], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Inserts an event and one delivery per endpoint (pending, or paused when disabled).
pub fn insert_event(
    conn: &Connection,
    account: AccountId,
    msg_id: &str,
    kind: &str,
    payload: &str,
    endpoints: &[(EndpointId, bool)],
    now: i64,
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO webhook_events (account_id, msg_id, type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![account, msg_id, kind, payload, now])?;
    let event_id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, next_attempt_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
    )?;
    for (endpoint, enabled) in endpoints {
        let status = if *enabled { "pending" } else { "paused" };
        stmt.execute(params![event_id, endpoint, status, now])?;
    }
    Ok(event_id)
}
