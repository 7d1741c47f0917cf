//! Webhook endpoints: add, list, remove.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::Connection;

use super::{ManageError, ManageResult, accounts};
use crate::auth::random;
use crate::clock;
use crate::model::EndpointId;
use crate::resources::RESOURCES;
use crate::store::webhooks::{self as store, Endpoint};

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
        for verb in ["created", "updated", "deleted"] {
            out.push(format!("{}.{verb}", r.singular));
        }
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
