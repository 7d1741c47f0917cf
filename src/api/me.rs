//! `GET /api/v1/me`: what the calling token is and may do, to debug a 403 without help.

use actix_web::HttpResponse;
use actix_web::web;
use serde_json::json;

use crate::auth::{AuthState, Caller};
use crate::clock;
use crate::error::ApiError;

/// `GET /api/v1/me`
pub async fn me(caller: Caller, auth: web::Data<AuthState>) -> Result<HttpResponse, ApiError> {
    let t = &caller.token;
    let rate = auth.rate_state(t);
    let limits: Vec<_> = rate
        .windows
        .iter()
        .map(|w| json!({ "limit": w.limit.to_string(), "remaining": w.remaining, "reset_seconds": w.reset_s }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "prefix": t.prefix,
        "name": t.name,
        "user": { "id": t.user_id, "email": t.user_email, "role": t.role },
        "account": { "id": t.account_id, "name": t.account_name, "plan": t.plan, "status": t.status },
        "scopes": caller.scopes(),
        "token_scopes": t.scopes,
        "user_permissions": t.permissions,
        "expires_at": t.expires_at.map(clock::format_ms),
        "allow_ips": t.allow_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "account_allow_ips": t.account_allow_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "limits": limits,
        "default_limits": t.default_limits,
        "rate_limit_exempt": auth.settings().rate_limit_exempt.iter().any(|n| n.contains(&caller.ip)),
        "caller_ip": caller.ip.to_string(),
    })))
}
