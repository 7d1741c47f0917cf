//! Signing in and out, who is signed in, and the first-run setup that creates the first admin.

use std::net::IpAddr;

use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::session::{self, AdminSession};
use super::{AdminState, body, refused, setup};
use crate::auth::scope::ScopeSet;
use crate::auth::{AuthState, password};
use crate::error::ApiError;
use crate::manage;
use crate::model::Role;
use crate::store::{Store, users};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    email: String,
    password: String,
}

/// Who is signed in, as the page needs it.
#[derive(Serialize)]
struct Me<'a> {
    user_id: i64,
    email: &'a str,
    name: Option<&'a str>,
    role: Role,
    account: &'a str,
    csrf_token: &'a str,
}

/// Refuses, without charging, when the caller's address or the email has had too many
/// failed sign-ins; only failures are charged.
fn throttled(state: &AdminState, ip: IpAddr, email: &str) -> Result<(), ApiError> {
    let by_ip = state.login_by_ip.peek(&ip, &state.ip_limits);
    let by_account = state
        .login_by_account
        .peek(&email.to_owned(), &state.account_limits);
    let wait = [by_ip, by_account]
        .iter()
        .filter(|v| !v.allowed)
        .map(|v| v.retry_after_s)
        .max();
    match wait {
        Some(retry_after) => Err(ApiError::RateLimited {
            retry_after,
            what: "failed sign-ins",
        }),
        None => Ok(()),
    }
}

/// `POST /admin/api/login`
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, ApiError> {
    let creds: Credentials = body::parse(&req, payload).await?;
    let email = creds.email.trim().to_lowercase();
    let ip = session::caller_ip(&req);
    throttled(&state, ip, &email)?;
    let reader = store.clone();
    let lookup = email.clone();
    let user = web::block(move || -> Result<_, ApiError> {
        let found = reader.read(|c| users::password_hash(c, &lookup))?;
        // An unknown email costs the same hash as a known one: timing does not tell them apart.
        let phc = found
            .as_ref()
            .map_or(setup::DECOY_HASH.as_str(), |(_, h)| h);
        let ok = password::verify(&creds.password, phc);
        Ok(found.filter(|_| ok).map(|(id, _)| id))
    })
    .await??;
    let Some(user) = user else {
        state.login_by_ip.check(&ip, &state.ip_limits);
        state.login_by_account.check(&email, &state.account_limits);
        tracing::info!(%ip, "admin sign-in failed");
        return Err(ApiError::InvalidCredentials);
    };
    let secure = session::wants_secure(&req);
    let agent = user_agent(&req);
    let ip_text = ip.to_string();
    let opened = store
        .writer()
        .write(move |c| session::open(c, user, &ip_text, agent.as_deref(), secure))
        .await?;
    tracing::info!(%ip, user = %user, "admin signed in");
    Ok(HttpResponse::Ok()
        .cookie(opened.cookie)
        .json(json!({ "csrf_token": opened.csrf_token })))
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect())
}

/// `POST /admin/api/logout`
pub async fn logout(
    req: HttpRequest,
    who: AdminSession,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let hash = who.id_hash();
    store
        .writer()
        .write(move |c| crate::store::sessions::delete(c, &hash))
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(session::removal(session::wants_secure(&req)))
        .finish())
}

/// `GET /admin/api/me`: who is signed in, and the CSRF token for a reloaded page.
pub async fn me(who: AdminSession, auth: web::Data<AuthState>) -> HttpResponse {
    let w = &who.who;
    let mut body = serde_json::to_value(Me {
        user_id: w.user_id.0,
        email: &w.email,
        name: w.name.as_deref(),
        role: w.role,
        account: &w.account_name,
        csrf_token: &w.csrf_token,
    })
    .unwrap_or_default();
    body["scopes"] = json!(ScopeSet::ALL);
    body["default_limits"] = json!(
        auth.settings()
            .default_limits
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    HttpResponse::Ok().json(body)
}

/// `GET /admin/api/setup`: whether the first admin still has to be created.
pub async fn setup_status(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    let any = web::block(move || store.read(users::any_admin)).await??;
    Ok(HttpResponse::Ok().json(json!({ "setup_required": !any })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    code: String,
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /admin/api/setup`: spends the one-time code, creates the first admin, signs them in.
pub async fn setup(
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let b: SetupBody = body::parse(&req, payload).await?;
    let secure = session::wants_secure(&req);
    let agent = user_agent(&req);
    let ip = session::caller_ip(&req).to_string();
    let opened = store
        .writer()
        .write(move |c| -> Result<_, ApiError> {
            // A refusal below rolls the whole write back, the spent code included: a weak
            // password does not burn the only setup address.
            if !setup::spend_code(c, &b.code)? {
                return Err(ApiError::Forbidden(
                    "This setup address is wrong, already used or expired. Restart the server \
                     to get a new one, or add an admin with `switchboard user add --role admin \
                     --password-stdin`."
                        .into(),
                ));
            }
            let user =
                manage::users::create_first_admin(c, &b.email, b.name.as_deref(), &b.password)
                    .map_err(|e| refused(e, if_password(&b.password)))?;
            crate::store::generation::bump(c)?;
            Ok(session::open(c, user.id, &ip, agent.as_deref(), secure)?)
        })
        .await?;
    auth.invalidate_all();
    tracing::info!("the first admin was created through the setup page");
    Ok(HttpResponse::Created()
        .cookie(opened.cookie)
        .json(json!({ "csrf_token": opened.csrf_token })))
}

/// Which field a first-admin refusal is about.
fn if_password(pw: &str) -> &'static str {
    if password::check_strength(pw).is_err() {
        "password"
    } else {
        "email"
    }
}
