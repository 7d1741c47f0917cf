//! `ApiError`: the only HTTP error type. Every failure of a request ends here and is answered
//! once, as RFC 9457 `application/problem+json` with a stable `code`.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::resources::FieldError;
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Unknown path, or a record the caller cannot see.
    #[error("not found")]
    NotFound,
    /// The path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// No credentials at all.
    #[error("no API token was sent")]
    MissingToken,
    /// Malformed, unknown, revoked, rotated, or a disabled user's token.
    #[error("invalid token")]
    InvalidToken,
    /// The token's expiry has passed.
    #[error("token expired")]
    TokenExpired,
    /// The caller's address is not on an allow-list.
    #[error("ip not allowed")]
    IpNotAllowed(IpAddr),
    /// The account's subscription is not active or trialing.
    #[error("subscription inactive")]
    SubscriptionInactive,
    /// The account's plan lacks `api_access`.
    #[error("plan upgrade required")]
    PlanUpgradeRequired,
    /// A rate limit is exhausted; try again after this many seconds.
    #[error("rate limited")]
    RateLimited {
        /// Whole seconds, never less than the real wait.
        retry_after: u64,
        /// What was limited, for the detail.
        what: &'static str,
    },
    /// The token lacks the scope the call needs.
    #[error("insufficient scope")]
    InsufficientScope(&'static str),
    /// A body with a non-JSON content type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body did not arrive in time.
    #[error("request timeout")]
    RequestTimeout,
    /// A body over the limit (bytes).
    #[error("payload too large")]
    PayloadTooLarge(usize),
    /// The body is not JSON.
    #[error("invalid json")]
    InvalidJson(String),
    /// Fields with bad values.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A `cursor` that we did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    /// An `Idempotency-Key` reused with another request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// An `Idempotency-Key` whose first request is still running.
    #[error("idempotency key in flight")]
    IdempotencyKeyInFlight,
    /// Admin API without a session.
    #[error("login required")]
    LoginRequired,
    /// Admin sign-in with a wrong email or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Admin API action the signed-in user may not take.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Admin API state change without the CSRF token.
    #[error("csrf check failed")]
    CsrfFailed,
    /// A request that conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Temporarily unable to serve (overload, full disk).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure: logged, answered without internals.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The RFC 9457 body.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// The problem code an answer carries, when it is one of ours: one reading for the log
    /// line, the metrics and the audit record.
    pub fn code_of<B>(res: &actix_web::dev::ServiceResponse<B>) -> Option<&'static str> {
        res.response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
            .map(ApiError::code)
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            TokenExpired => "token_expired",
            IpNotAllowed(_) => "ip_not_allowed",
            SubscriptionInactive => "subscription_inactive",
            PlanUpgradeRequired => "plan_upgrade_required",
            RateLimited { .. } => "rate_limited",
            InsufficientScope(_) => "insufficient_scope",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge(_) => "payload_too_large",
            RequestTimeout => "request_timeout",
            InvalidJson(_) => "invalid_json",
            Validation(_) => "validation_failed",
            InvalidCursor => "invalid_cursor",
            IdempotencyKeyReused => "idempotency_key_reused",
            IdempotencyKeyInFlight => "idempotency_key_in_flight",
            LoginRequired => "login_required",
            InvalidCredentials => "invalid_credentials",
            Forbidden(_) => "forbidden",
            CsrfFailed => "csrf_failed",
            Conflict(_) => "conflict",
            Unavailable(_) => "service_unavailable",
            Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        use ApiError::*;
        match self {
            NotFound => "Not found",
            MethodNotAllowed => "Method not allowed",
            MissingToken => "Authentication required",
            InvalidToken => "Invalid token",
            TokenExpired => "Token expired",
            IpNotAllowed(_) => "Address not allowed",
            SubscriptionInactive => "Subscription inactive",
            PlanUpgradeRequired => "Plan upgrade required",
            RateLimited { .. } => "Too many requests",
            InsufficientScope(_) => "Insufficient scope",
            UnsupportedMediaType => "Unsupported media type",
            PayloadTooLarge(_) => "Payload too large",
            RequestTimeout => "Request timeout",
            InvalidJson(_) => "Invalid JSON",
            Validation(_) => "Validation failed",
            InvalidCursor => "Invalid cursor",
            IdempotencyKeyReused => "Idempotency key reused",
            IdempotencyKeyInFlight => "Idempotency key in flight",
            LoginRequired => "Login required",
            InvalidCredentials => "Wrong email or password",
            Forbidden(_) => "Forbidden",
            CsrfFailed => "CSRF check failed",
            Conflict(_) => "Conflict",
            Unavailable(_) => "Service unavailable",
            Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            NotFound => "No such resource, or it is not visible to this token.".into(),
            MethodNotAllowed => "This path does not support that method.".into(),
            MissingToken => {
                "Send an API token as `Authorization: Bearer <token>` or `x-api-key: <token>`."
                    .into()
            }
            InvalidToken => "The token is malformed, unknown, revoked or no longer valid.".into(),
            TokenExpired => "The token has expired; create a new one.".into(),
            IpNotAllowed(ip) => {
                format!("Calls from {ip} are not allowed for this token or account.")
            }
            SubscriptionInactive => {
                "The account's subscription is not active; API access resumes when it is.".into()
            }
            PlanUpgradeRequired => "The account's plan does not include API access.".into(),
            RateLimited { retry_after, what } => {
                format!("Too many {what}; retry in {retry_after} s.")
            }
            InsufficientScope(scope) => format!("This call needs the `{scope}` scope."),
            UnsupportedMediaType => "Send the body as `application/json`.".into(),
            PayloadTooLarge(limit) => format!("The body is larger than {limit} bytes."),
            RequestTimeout => "The request body did not arrive in time.".into(),
            InvalidJson(why) => format!("The body is not valid JSON: {why}"),
            Validation(errors) => match errors.as_slice() {
                [one] => format!("`{}` {}.", one.field, one.message),
                many => format!("{} fields are invalid; see `errors`.", many.len()),
            },
            InvalidCursor => "The cursor was not issued by this server for this list.".into(),
            IdempotencyKeyReused => {
                "This Idempotency-Key was already used with a different request.".into()
            }
            IdempotencyKeyInFlight => {
                "A request with this Idempotency-Key is still being processed; retry shortly."
                    .into()
            }
            LoginRequired => "Sign in to the admin page first.".into(),
            InvalidCredentials => {
                "The email or the password is wrong, or the user is disabled.".into()
            }
            Forbidden(why) | Conflict(why) | Unavailable(why) => why.clone(),
            CsrfFailed => {
                "State-changing admin requests must carry the X-CSRF-Token header.".into()
            }
            Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        use ApiError::*;
        match self {
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            MissingToken | InvalidToken | TokenExpired | LoginRequired => StatusCode::UNAUTHORIZED,
            InvalidCredentials => StatusCode::UNAUTHORIZED,
            IpNotAllowed(_) | InsufficientScope(_) | Forbidden(_) | CsrfFailed => {
                StatusCode::FORBIDDEN
            }
            SubscriptionInactive | PlanUpgradeRequired => StatusCode::PAYMENT_REQUIRED,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            InvalidJson(_) | InvalidCursor => StatusCode::BAD_REQUEST,
            Validation(_) | IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            IdempotencyKeyInFlight | Conflict(_) => StatusCode::CONFLICT,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause, "internal error");
        }
        let status = self.status_code();
        // Every 422 names its fields (CONTRACT.md), a reused key too.
        let reused;
        let errors = match self {
            ApiError::Validation(e) => Some(e.as_slice()),
            ApiError::IdempotencyKeyReused => {
                reused = [FieldError::new(
                    "Idempotency-Key",
                    "was used with another request (another body, path or user)",
                )];
                Some(&reused[..])
            }
            _ => None,
        };
        let body = Problem {
            kind: format!("urn:switchboard:problem:{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code(),
            errors,
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::MissingToken => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="switchboard""#));
            }
            ApiError::InvalidToken => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="switchboard", error="invalid_token""#,
                ));
            }
            ApiError::TokenExpired => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="switchboard", error="invalid_token", error_description="token expired""#,
                ));
            }
            ApiError::LoginRequired | ApiError::InvalidCredentials => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Session realm="switchboard-admin""#,
                ));
            }
            ApiError::InsufficientScope(scope) => {
                let v = format!(
                    r#"Bearer realm="switchboard", error="insufficient_scope", scope="{scope}""#
                );
                if let Ok(v) = HeaderValue::from_str(&v) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            ApiError::RateLimited { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
                res.insert_header((header::CACHE_CONTROL, "no-store"));
            }
            ApiError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        res.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Busy => ApiError::Unavailable("The server is busy; retry shortly.".into()),
            StoreError::RolledBack => ApiError::Unavailable(
                "The database could not store this change just now; retry shortly.".into(),
            ),
            e if e.is_full() => {
                ApiError::Unavailable("The database is full; writes are refused.".into())
            }
            e if e.is_busy() => ApiError::Unavailable(
                "The database is locked by another process; retry shortly.".into(),
            ),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> ApiError {
        ApiError::Unavailable("The server is shutting down.".into())
    }
}
