//! Around every `/api/v1` call: the IETF rate-limit fields for calls that reached the
//! limiter, and one record for the audit log, usage counters and last-used stamp (sent
//! to the recorder without waiting).

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

use crate::activity::{CallRecord, Recorder};
use crate::auth::CallContext;
use crate::clock;
use crate::error::ApiError;

/// Middleware for the `/api/v1` scope.
pub async fn record_call(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let at = clock::now_ms();
    let recorder = req.app_data::<web::Data<Recorder>>().cloned();
    let method = method_name(req.method());
    let path = req.path().to_owned();
    let peer = req.peer_addr().map(|a| a.ip().to_canonical());
    let mut res = next.call(req).await?;
    // What the guard learned, read in place: the request keeps its context for the log line.
    let (token, admitted, rate_limited, ip, rate_fields) = {
        let extensions = res.request().extensions();
        let ctx = extensions.get::<CallContext>();
        let token = ctx.and_then(|c| c.token.clone());
        let rate = ctx.and_then(|c| c.rate.as_ref());
        let rate_fields = match (&token, rate) {
            (Some(t), Some(r)) => Some((t.policy_header.clone(), r.header())),
            _ => None,
        };
        (
            token,
            ctx.is_some_and(|c| c.admitted),
            rate.is_some_and(|r| !r.allowed),
            ctx.and_then(|c| c.ip).or(peer),
            rate_fields,
        )
    };
    if let Some((policy, rate)) = rate_fields {
        let headers = res.headers_mut();
        headers.insert(HeaderName::from_static("ratelimit-policy"), policy);
        if let Some(v) = rate {
            headers.insert(HeaderName::from_static("ratelimit"), v);
        }
    }
    if let Some(recorder) = recorder {
        let status = res.status().as_u16();
        let code = ApiError::code_of(&res);
        recorder.record(CallRecord {
            at,
            token: token.map(|t| (t.id, t.prefix.clone(), t.user_id, t.account_id)),
            admitted,
            rate_limited,
            method,
            path,
            status,
            code,
            ip,
            latency_us: started.elapsed().as_micros() as i64,
        });
    }
    Ok(res)
}

/// A method's name for the audit: a standard method's is not copied.
fn method_name(method: &Method) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    let name = method.as_str();
    match STANDARD.iter().find(|s| **s == name) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(name.to_owned()),
    }
}
