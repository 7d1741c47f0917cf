//! Around every `/api/v1` call: the IETF rate-limit fields for calls that reached the limiter.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use crate::auth::CallContext;

/// Middleware: adds `RateLimit-Policy` and `RateLimit` to answers that passed the limiter.
pub async fn record_call(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let ctx = res.request().extensions().get::<CallContext>().cloned();
    if let Some(ctx) = ctx
        && let (Some(token), Some(rate)) = (&ctx.token, &ctx.rate)
    {
        let headers = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&token.policy_header) {
            headers.insert(HeaderName::from_static("ratelimit-policy"), v);
        }
        if let Some(v) = rate.header().and_then(|h| HeaderValue::from_str(&h).ok()) {
            headers.insert(HeaderName::from_static("ratelimit"), v);
        }
    }
    Ok(res)
}
