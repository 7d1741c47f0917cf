//! The admin page: server-side sessions with CSRF protection, the JSON API under
//! `/admin/api/` that the page uses, the first-run setup and the embedded static files.
//! Every management rule lives in `crate::manage`; this layer decides who may ask.

mod account;
mod audit;
mod body;
mod headers;
mod login;
mod routes;
pub mod session;
pub mod setup;
mod static_files;
mod tokens;
mod users;
mod webhooks;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use rusqlite::Connection;

use crate::auth::AuthState;
use crate::auth::rate_limit::{Limit, RateLimiter};
use crate::error::ApiError;
use crate::manage::ManageError;
use crate::resources::FieldError;
use crate::store::{Store, generation};

pub use routes::configure;

/// Settings of the admin page.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// Always mark the session cookie `Secure` (the server sits behind an HTTPS proxy that
    /// does not say so in `X-Forwarded-Proto`).
    pub secure_cookies: bool,
}

/// Failed sign-ins allowed per client address.
const LOGIN_LIMIT_PER_IP: &str = "10/1m";
/// Failed sign-ins allowed per email address, from anywhere.
const LOGIN_LIMIT_PER_ACCOUNT: &str = "5/1m";

/// Shared state of the admin page: its settings and the sign-in throttles.
pub struct AdminState {
    settings: AdminSettings,
    login_by_ip: RateLimiter<IpAddr>,
    login_by_account: RateLimiter<String>,
    ip_limits: Arc<[Limit]>,
    account_limits: Arc<[Limit]>,
}

impl AdminState {
    /// State for a server with these settings.
    pub fn new(settings: AdminSettings) -> AdminState {
        let ip_limits: Arc<[Limit]> = vec![Limit::parse(LOGIN_LIMIT_PER_IP).expect("valid")].into();
        let account_limits: Arc<[Limit]> =
            vec![Limit::parse(LOGIN_LIMIT_PER_ACCOUNT).expect("valid")].into();
        AdminState {
            settings,
            login_by_ip: RateLimiter::new(100_000, Duration::from_secs(120)),
            login_by_account: RateLimiter::new(100_000, Duration::from_secs(120)),
            ip_limits,
            account_limits,
        }
    }
}

/// A management refusal as the admin API answers it; `field` names what was wrong when the
/// rule's message does not.
pub(crate) fn refused(e: ManageError, field: &str) -> ApiError {
    match e {
        ManageError::NotFound(_) => ApiError::NotFound,
        ManageError::Invalid(msg) => ApiError::Validation(vec![FieldError::new(field, msg)]),
        ManageError::Conflict(msg) => ApiError::Conflict(msg),
        ManageError::Store(e) => e.into(),
    }
}

/// Runs a management change on the writer, bumps the change generation in the same
/// transaction, and drops the cached auth state once it has committed: the very next API call
/// sees the change. `field` names what a refusal is about when the rule's message does not.
pub(crate) async fn change<R, F>(
    store: &Store,
    auth: &AuthState,
    field: &'static str,
    f: F,
) -> Result<R, ApiError>
where
    F: FnOnce(&Connection) -> Result<R, ManageError> + Send + 'static,
    R: Send + 'static,
{
    let out = store
        .writer()
        .write(move |c| {
            let out = f(c)?;
            generation::bump(c)?;
            Ok::<_, ManageError>(out)
        })
        .await
        .map_err(|e| refused(e, field))?;
    auth.invalidate_all();
    Ok(out)
}

/// Runs a read on a pooled connection, off the async workers.
pub(crate) async fn read<R, F>(store: &Store, f: F) -> Result<R, ApiError>
where
    F: FnOnce(&Connection) -> Result<R, ManageError> + Send + 'static,
    R: Send + 'static,
{
    let store = store.clone();
    web::block(move || {
        let mut out = None;
        store.read(|c| {
            out = Some(f(c));
            Ok(())
        })?;
        out.expect("the read ran")
            .map_err(|e| refused(e, "(query)"))
    })
    .await?
}
