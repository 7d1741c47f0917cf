//! The request guard: every `/api/v1` handler that needs a caller extracts a `Caller`, which
//! runs the contract's checks in order. With a warm cache nothing here touches the disk.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::cache::{AuthState, CachedToken};
use super::client_ip::client_ip;
use super::rate_limit::Verdict;
use super::scope::{Scope, ScopeSet};
use super::{allow_list, token};
use crate::clock;
use crate::error::ApiError;
use crate::model::{self, ApiAccessDenied, Role};
use crate::store::records::Reach;

/// An authenticated caller that passed every check but the scope (which depends on the call).
#[derive(Clone)]
pub struct Caller {
    /// The token and what it acts as.
    pub token: Arc<CachedToken>,
    /// The caller's address.
    pub ip: IpAddr,
}

impl Caller {
    /// Refuses the call unless the token's effective scopes include `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.token.effective_scopes().contains(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.name()))
        }
    }

    /// The scopes usable now.
    pub fn scopes(&self) -> ScopeSet {
        self.token.effective_scopes()
    }

    /// Which records the caller reaches: an admin the account's, an agent their own.
    pub fn reach(&self) -> Reach {
        Reach {
            account_id: self.token.account_id,
            owner: (self.token.role == Role::Agent).then_some(self.token.user_id),
        }
    }
}

/// What the guard learned about a call, left in the request's extensions for the
/// telemetry middleware (audit row, last-used stamp, rate-limit fields).
#[derive(Clone, Default)]
pub struct CallContext {
    /// The caller's address.
    pub ip: Option<IpAddr>,
    /// The token, when it was identified (even if a later check refused it).
    pub token: Option<Arc<CachedToken>>,
    /// The limiter's verdict, when the call reached it.
    pub rate: Option<Verdict>,
    /// Whether every check up to the scope passed.
    pub admitted: bool,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Authenticating;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Authenticating(Some(req.clone()))
    }
}

/// The guard's checks, run when first polled, not when made: a handler's extractors are all
/// made before any is polled, and a call refused by an earlier one (a path id that is no
/// id) is neither charged to the token's limits nor counted as a failed authentication.
/// Ready at that first poll: none of the checks waits (a cache miss is read inline, see
/// `identify`).
pub struct Authenticating(Option<HttpRequest>);

impl Future for Authenticating {
    type Output = Result<Caller, ApiError>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.get_mut().0.take() {
            Some(req) => authenticate(&req),
            None => Err(ApiError::Internal(
                "the guard was polled after it answered".into(),
            )),
        })
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(auth) = req.app_data::<web::Data<AuthState>>().cloned() else {
        return Err(ApiError::Internal("auth state is not configured".into()));
    };
    let ip = client_ip(req, &auth.settings.trusted_proxies);
    let mut ctx = CallContext {
        ip: Some(ip),
        ..CallContext::default()
    };
    // An address that failed too often is refused before its credentials are looked at, the
    // right ones too: otherwise a guesser, refused on every miss, would still see its hit.
    if let Some(retry_after) = auth.failed.blocked(&ip) {
        req.extensions_mut().insert(ctx);
        return Err(ApiError::RateLimited {
            retry_after: retry_after.max(1),
            what: "failed authentications from this address",
        });
    }
    let identified = identify(&auth, req.headers());
    let token = match identified {
        Ok(t) => t,
        Err(e) => {
            req.extensions_mut().insert(ctx);
            return Err(failed_authentication(&auth, ip, e));
        }
    };
    ctx.token = Some(token.clone());
    let checked = admit(&auth, &token, ip, &mut ctx);
    ctx.admitted = checked.is_ok();
    req.extensions_mut().insert(ctx);
    checked.map(|()| Caller { token, ip })
}

/// Steps after identification: allow-lists, the account gate, the rate limit.
fn admit(
    auth: &AuthState,
    token: &CachedToken,
    ip: IpAddr,
    ctx: &mut CallContext,
) -> Result<(), ApiError> {
    if !allow_list::permits(&token.allow_ips, ip)
        || !allow_list::permits(&token.account_allow_ips, ip)
    {
        return Err(ApiError::IpNotAllowed(ip));
    }
    model::api_access(token.plan, token.status).map_err(|d| match d {
        ApiAccessDenied::SubscriptionInactive => ApiError::SubscriptionInactive,
        ApiAccessDenied::PlanUpgradeRequired => ApiError::PlanUpgradeRequired,
    })?;
    if auth
        .settings
        .rate_limit_exempt
        .iter()
        .any(|n| n.contains(&ip))
    {
        return Ok(());
    }
    let verdict = auth.limiter.check_bucket(&token.rate, &token.limits);
    let (allowed, retry_after) = (verdict.allowed, verdict.retry_after_s);
    ctx.rate = Some(verdict);
    if allowed {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after,
            what: "requests for this token",
        })
    }
}

/// A failure is counted against its address; the one past the threshold is answered 429
/// (and every call after it, by `authenticate`, until the window lets one through). Missing
/// credentials are not counted: they guess nothing.
fn failed_authentication(auth: &AuthState, ip: IpAddr, e: ApiError) -> ApiError {
    if matches!(e, ApiError::MissingToken) {
        return e;
    }
    let verdict = auth.failed.check(&ip, &auth.failed_limits);
    if !verdict.allowed {
        let retry_after = verdict.retry_after_s.max(1);
        ApiError::RateLimited {
            retry_after,
            what: "failed authentications from this address",
        }
    } else {
        e
    }
}

/// Credentials -> checksum -> hash -> cache (or one lookup) -> revoked/rotated/disabled/expired.
fn identify(auth: &AuthState, headers: &HeaderMap) -> Result<Arc<CachedToken>, ApiError> {
    let presented = credentials(headers)?;
    let parsed = token::parse(presented).ok_or(ApiError::InvalidToken)?;
    let hash = token::hash(parsed.whole);
    // One reading for the look-aside's age and the checks below. On a miss the checks run
    // against the time before the look-up: a call concurrent with an expiry, either way.
    let now = clock::now_ms();
    let entry = match auth.cached(&hash, now) {
        Some(hit) => hit,
        // One indexed lookup by hash: microseconds, cheaper inline than a thread hop.
        None => auth.load(&hash)?,
    };
    let token = entry.ok_or(ApiError::InvalidToken)?;
    if token.revoked_at.is_some_and(|t| t <= now)
        || token.grace_until.is_some_and(|t| t <= now)
        || token.user_disabled
    {
        return Err(ApiError::InvalidToken);
    }
    if token.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::TokenExpired);
    }
    Ok(token)
}

/// The token from `Authorization: Bearer` (scheme case-insensitive) or `x-api-key`.
/// Another scheme counts as no credentials; two different tokens are refused.
fn credentials(headers: &HeaderMap) -> Result<&str, ApiError> {
    let bearer = match headers.get(AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| ApiError::InvalidToken)?.trim();
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        }
    };
    let api_key = match headers.get("x-api-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ApiError::InvalidToken)?.trim()),
    };
    match (bearer, api_key) {
        (None, None) => Err(ApiError::MissingToken),
        (Some(a), Some(b)) if a != b => Err(ApiError::InvalidToken),
        (Some(t), _) | (None, Some(t)) if t.is_empty() => Err(ApiError::InvalidToken),
        (Some(t), _) | (None, Some(t)) => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.parse().unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn credentials_follow_the_contract() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a str, &'a str>, &'a str);
        let cases: &[Case<'_>] = &[
            (&[], Err("missing_token"), "nothing sent"),
            (
                &[("authorization", "Basic dXNlcjpwYXNz")],
                Err("missing_token"),
                "another scheme",
            ),
            (
                &[("authorization", "bEaReR abc")],
                Ok("abc"),
                "scheme is case-insensitive",
            ),
            (
                &[("authorization", "Bearer")],
                Err("invalid_token"),
                "empty bearer",
            ),
            (&[("x-api-key", "abc")], Ok("abc"), "x-api-key"),
            (
                &[("x-api-key", "")],
                Err("invalid_token"),
                "empty x-api-key",
            ),
            (
                &[("authorization", "Bearer abc"), ("x-api-key", "abc")],
                Ok("abc"),
                "both, equal",
            ),
            (
                &[("authorization", "Bearer abc"), ("x-api-key", "xyz")],
                Err("invalid_token"),
                "both, different",
            ),
            (
                &[("authorization", "Basic x"), ("x-api-key", "abc")],
                Ok("abc"),
                "basic plus key",
            ),
        ];
        for (h, expected, why) in cases {
            let headers = headers(h);
            let got = credentials(&headers).map_err(|e| e.code());
            assert_eq!(got, *expected, "{why}");
        }
    }
}
