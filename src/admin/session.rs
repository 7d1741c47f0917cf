//! Admin sessions: an opaque random id in an `HttpOnly; SameSite=Strict` cookie, looked up
//! server-side (only its SHA-256 is stored), with idle and absolute expiry, and a CSRF token
//! that every state-changing request must echo in `X-CSRF-Token`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::AdminState;
use crate::auth::{AuthState, client_ip::client_ip, random};
use crate::clock;
use crate::error::ApiError;
use crate::model::{AccountId, Role, UserId};
use crate::store::Store;
use crate::store::sessions::{self, NewSession, SessionRow};

/// The session cookie's name.
pub const COOKIE: &str = "sb_admin";
/// A session ends after this long without a request.
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// The idle clock is moved at most this often: one write per minute, not per request.
const TOUCH_EVERY_MS: i64 = 60 * 1000;
/// The CSRF header.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in person, extracted from the session cookie. State-changing methods also pass
/// the CSRF check before a handler runs.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// Who, their role and account, as stored now.
    pub who: SessionRow,
    id_hash: [u8; 32],
}

impl AdminSession {
    /// The signed-in user.
    pub fn user_id(&self) -> UserId {
        self.who.user_id
    }

    /// Their account.
    pub fn account_id(&self) -> AccountId {
        self.who.account_id
    }

    /// True for an admin of the account.
    pub fn is_admin(&self) -> bool {
        self.who.role == Role::Admin
    }

    /// Refuses agents: every route but their own tokens is for admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Only an admin of the account can do this; agents manage their own tokens only."
                    .into(),
            ))
        }
    }

    /// The digest of this session's id.
    pub(super) fn id_hash(&self) -> [u8; 32] {
        self.id_hash
    }
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// Compares without stopping at the first difference, so timing tells nothing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for AdminSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<AdminSession, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load(&req).await })
    }
}

async fn load(req: &HttpRequest) -> Result<AdminSession, ApiError> {
    // Only the cookie counts: an API token in `Authorization` opens nothing here.
    let cookie = req.cookie(COOKIE).ok_or(ApiError::LoginRequired)?;
    let id_hash = digest(cookie.value());
    let store = req
        .app_data::<web::Data<Store>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("store is not configured".into()))?;
    let now = clock::now_ms();
    let reader = store.clone();
    let who = web::block(move || reader.read(|c| sessions::find_live(c, &id_hash, now, IDLE_MS)))
        .await??
        .ok_or(ApiError::LoginRequired)?;
    if !is_safe(req.method()) {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same(sent, who.csrf_token.as_bytes()) {
            return Err(ApiError::CsrfFailed);
        }
    }
    if now - who.last_seen_at >= TOUCH_EVERY_MS {
        store
            .writer()
            .write(move |c| sessions::touch(c, &id_hash, now))
            .await?;
    }
    Ok(AdminSession { who, id_hash })
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A session just opened: the cookie to set and the CSRF token to hand the page.
pub struct Opened {
    /// `Set-Cookie`.
    pub cookie: Cookie<'static>,
    /// For `X-CSRF-Token`.
    pub csrf_token: String,
}

/// Opens a session for `user` (inside the caller's write transaction) and builds its cookie.
pub fn open(
    conn: &rusqlite::Connection,
    user: UserId,
    ip: &str,
    user_agent: Option<&str>,
    secure: bool,
) -> crate::store::StoreResult<Opened> {
    let now = clock::now_ms();
    let id = random::base62(43);
    let csrf_token = random::base62(32);
    sessions::prune(conn, now, IDLE_MS)?;
    sessions::insert(
        conn,
        &NewSession {
            id_hash: &digest(&id),
            user_id: user,
            csrf_token: &csrf_token,
            expires_at: now + ABSOLUTE_MS,
            ip,
            user_agent,
        },
        now,
    )?;
    let cookie = Cookie::build(COOKIE, id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::milliseconds(ABSOLUTE_MS))
        .finish();
    Ok(Opened { cookie, csrf_token })
}

/// A cookie that makes the browser forget the session.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "")
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    c.make_removal();
    c
}

/// Whether the cookie should be `Secure`: the serve flag says so, the listener speaks TLS,
/// or a trusted proxy says the browser used HTTPS.
pub fn wants_secure(req: &HttpRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    if req
        .app_data::<web::Data<AdminState>>()
        .is_some_and(|s| s.settings.secure_cookies)
    {
        return true;
    }
    let Some(auth) = req.app_data::<web::Data<AuthState>>() else {
        return false;
    };
    let trusted = &auth.settings().trusted_proxies;
    let peer_trusted = req
        .peer_addr()
        .is_some_and(|p| trusted.iter().any(|n| n.contains(&p.ip())));
    peer_trusted
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The caller's address, as the API sees it (trusted proxies honoured).
pub fn caller_ip(req: &HttpRequest) -> std::net::IpAddr {
    let trusted = req
        .app_data::<web::Data<AuthState>>()
        .map(|a| a.settings().trusted_proxies.clone())
        .unwrap_or_default();
    client_ip(req, &trusted)
}

#[cfg(test)]
mod tests {
    #[test]
    fn comparison_needs_equal_length_and_bytes() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abc", b"abd"));
        assert!(!super::same(b"abc", b"abcd"));
        assert!(!super::same(b"", b"a"));
    }
}
