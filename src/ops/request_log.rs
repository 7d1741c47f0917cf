//! Around the whole App: a request id (taken from a sane incoming `X-Request-Id`, else made
//! here) returned as `X-Request-Id`, one log line per request, and the request metrics.
//!
//! The log line carries the path without its query string and no header values: secrets
//! travel in `Authorization`/`x-api-key` and could be pasted into a query by mistake.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use super::metrics::Metrics;
use crate::auth::client_ip::{IpText, client_ip};
use crate::auth::{AuthState, CallContext};
use crate::error::ApiError;
use crate::telemetry::{self, RequestLine};

/// The response header (and accepted request header) carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware: request id, log line, metrics.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(new_id);
    let method = req.method().clone();
    let path = truncate(req.path(), 200).to_owned();
    // Lines logged while the call is served carry its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    let code = ApiError::code_of(&res);
    let route = route_label(res.request());
    if let Some(m) = res.request().app_data::<web::Data<Metrics>>() {
        m.observe(&route, status, elapsed.as_secs_f64(), code);
    }
    // In the span, as the line used to be logged: a `RUST_LOG` directive may name the span.
    if span.in_scope(telemetry::request_lines_enabled) {
        let extensions = res.request().extensions();
        let call = extensions.get::<CallContext>();
        // An API call's address was worked out by the guard; other requests work it out here.
        let ip = call
            .and_then(|c| c.ip)
            .or_else(|| {
                let auth = res.request().app_data::<web::Data<AuthState>>()?;
                Some(client_ip(res.request(), &auth.settings().trusted_proxies))
            })
            .map(IpText::new);
        let prefix = call
            .and_then(|c| c.token.as_deref())
            .map(|t| t.prefix.as_str());
        telemetry::request_line(&RequestLine {
            request_id: &id,
            method: method.as_str(),
            path: &path,
            route: &route,
            status,
            latency: elapsed,
            ip: ip.as_ref().map_or("", IpText::as_str),
            token_prefix: prefix.unwrap_or("-"),
            code: code.unwrap_or("-"),
        });
    }
    // The id's own bytes, not a copy (a plain id is a valid value, see `incoming_id`).
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(id)) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

/// An incoming id is kept (so a proxy's id ties its log to ours) only when it is short and
/// plain: it goes into our log lines verbatim.
fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let plain = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    plain.then(|| v.to_owned())
}

fn new_id() -> String {
    crate::auth::random::id(20)
}

/// The route pattern (each resource has its own, so metrics tell leads from invoices), a
/// bounded set: clients cannot mint labels. A route that names itself (`RouteLabel`) is
/// taken at its word; for the others actix puts the pattern together from its route tree.
fn route_label(req: &actix_web::HttpRequest) -> Cow<'static, str> {
    match req.app_data::<RouteLabel>() {
        Some(label) => Cow::Borrowed(label.0),
        None => req
            .match_pattern()
            .map_or(Cow::Borrowed("(unmatched)"), Cow::Owned),
    }
}

/// A resource's full pattern (`/api/v1/leads/{id}`), set as the resource's data by routes
/// served on every call: their label is then read in place, where `match_pattern` walks
/// actix's route tree to the matched resource and joins the patterns on the way into a new
/// `String` at every call. Must equal what `match_pattern` would say (a test of `api`
/// compares them).
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
