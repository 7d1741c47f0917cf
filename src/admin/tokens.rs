//! `/admin/api/tokens`: an admin manages every token of the account, an agent their own.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, path_id, present};
use super::session::AdminSession;
use super::{change, read};
use crate::auth::AuthState;
use crate::clock;
use crate::error::ApiError;
use crate::manage::tokens::{self as manage_tokens, Expiry, TokenChanges, TokenInput};
use crate::manage::views::{CreatedTokenView, TokenView};
use crate::manage::{self, ManageError};
use crate::model::{TokenId, UserId};
use crate::store::Store;
use crate::store::audit::{self, AuditFilter};
use crate::store::tokens::{self as store_tokens, Token};

fn view(t: &Token, auth: &AuthState) -> TokenView {
    TokenView::new(t, Some(&auth.settings().default_limits))
}

/// A token the session may see: its account's, and for an agent only their own.
fn visible(who: &AdminSession, t: &Token) -> bool {
    t.account_id == who.account_id() && (who.is_admin() || t.user_id == who.user_id())
}

async fn load(store: &Store, who: &AdminSession, id: &str) -> Result<Token, ApiError> {
    let id = TokenId(path_id(id)?);
    let t = read(store, move |c| Ok(store_tokens::find_by_id(c, id)?)).await?;
    t.filter(|t| visible(who, t)).ok_or(ApiError::NotFound)
}

#[derive(Deserialize)]
pub struct ListQuery {
    user_id: Option<i64>,
}

/// `GET /admin/api/tokens`
pub async fn list(
    who: AdminSession,
    q: web::Query<ListQuery>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let user = if who.is_admin() {
        q.user_id.map(UserId)
    } else {
        Some(who.user_id())
    };
    let account = who.account_id();
    let list = read(&store, move |c| {
        Ok(store_tokens::list(c, Some(account), user)?)
    })
    .await?;
    let views: Vec<TokenView> = list.iter().map(|t| view(t, &auth)).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    allow_ips: Vec<String>,
    #[serde(default)]
    limits: Option<Vec<String>>,
    #[serde(default)]
    user_id: Option<i64>,
}

fn expiry(at: Option<&str>, within: Option<&str>) -> Result<Option<Expiry>, ApiError> {
    let bad = |field: &str, msg: String| {
        ApiError::Validation(vec![crate::resources::FieldError::new(field, msg)])
    };
    match (at, within) {
        (Some(_), Some(_)) => Err(bad(
            "expires_at",
            "give expires_at or expires_in, not both".into(),
        )),
        (Some(t), None) => clock::parse_rfc3339(t)
            .map(|ms| Some(Expiry::At(ms)))
            .ok_or_else(|| bad("expires_at", format!("`{t}` is not an RFC 3339 time"))),
        (None, Some(d)) => clock::parse_duration(d)
            .map(|d| Some(Expiry::In(d)))
            .ok_or_else(|| bad("expires_in", format!("`{d}` is not a duration like 90d"))),
        (None, None) => Ok(None),
    }
}

/// `POST /admin/api/tokens`: for the signed-in user unless an admin names another.
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let b: NewToken = body::parse(&req, payload).await?;
    let expiry = expiry(b.expires_at.as_deref(), b.expires_in.as_deref())?.unwrap_or(Expiry::Never);
    let owner = b.user_id.map_or(who.user_id(), UserId);
    if owner != who.user_id() && !who.is_admin() {
        return Err(ApiError::Forbidden(
            "Agents create tokens for themselves only.".into(),
        ));
    }
    let account = who.account_id();
    let created = change(&store, &auth, "scopes", move |c| {
        let user = manage::users::require_in_account(c, account, owner)?;
        manage_tokens::create(
            c,
            TokenInput {
                user_email: user.email,
                name: b.name,
                scopes: b.scopes,
                expiry,
                allow_ips: b.allow_ips,
                limits: b.limits,
            },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedTokenView {
        view: view(&created.token, &auth),
        token: created.plaintext,
    }))
}

/// `GET /admin/api/tokens/{id}`
pub async fn show(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&store, &who, &id).await?;
    Ok(HttpResponse::Ok().json(view(&t, &auth)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<String>>,
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    allow_ips: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    limits: Option<Option<Vec<String>>>,
}

/// `PATCH /admin/api/tokens/{id}`: name, expiry (`null`: none), allow-list, limits (`null`:
/// the server's defaults).
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&store, &who, &id).await?;
    let b: TokenPatch = body::parse(&req, payload).await?;
    let expiry = match &b.expires_at {
        Some(None) if b.expires_in.is_none() => Some(Expiry::Never),
        Some(at) => expiry(at.as_deref(), b.expires_in.as_deref())?,
        None => expiry(None, b.expires_in.as_deref())?,
    };
    let changes = TokenChanges {
        name: b.name,
        expiry,
        allow_ips: b.allow_ips,
        limits: b.limits,
    };
    let field = "(body)";
    let updated = change(&store, &auth, field, move |c| {
        manage_tokens::update(c, &t.id.to_string(), changes)
    })
    .await?;
    auth.forget_rate_state(updated.id);
    Ok(HttpResponse::Ok().json(view(&updated, &auth)))
}

/// `POST /admin/api/tokens/{id}/revoke`: the token's next call is refused.
pub async fn revoke(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&store, &who, &id).await?;
    let reason = format!("revoked on the admin page by {}", who.who.email);
    let revoked = change(&store, &auth, "id", move |c| {
        manage_tokens::revoke(c, &t.id.to_string(), &reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&revoked, &auth)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    #[serde(default)]
    grace: Option<String>,
}

/// `POST /admin/api/tokens/{id}/rotate`: a new token in its place; the old one works for
/// `grace` more (default: not at all). The body is optional.
pub async fn rotate(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&store, &who, &id).await?;
    let b: RotateBody = if req.headers().contains_key("content-type") {
        body::parse(&req, payload).await?
    } else {
        RotateBody::default()
    };
    let grace = match b.grace.as_deref().map(str::trim) {
        None | Some("" | "none" | "0") => None,
        Some(g) => Some(clock::parse_duration(g).ok_or_else(|| {
            ApiError::Validation(vec![crate::resources::FieldError::new(
                "grace",
                format!("`{g}` is not a duration like 15m, 24h or 7d"),
            )])
        })?),
    };
    let created = change(&store, &auth, "id", move |c| {
        manage_tokens::rotate(c, &t.id.to_string(), grace)
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedTokenView {
        view: view(&created.token, &auth),
        token: created.plaintext,
    }))
}

/// Days of history the usage chart shows.
const USAGE_DAYS: i64 = 30;

/// `GET /admin/api/tokens/{id}/usage`: requests per day for 30 days (every day present, zeros
/// included) and the token's latest calls.
pub async fn usage(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&store, &who, &id).await?;
    let days: Vec<String> = (0..USAGE_DAYS)
        .rev()
        .map(|back| clock::format_ms(clock::now_ms() - back * 86_400_000)[..10].to_owned())
        .collect();
    let since = days[0].clone();
    let token = t.id;
    let (rows, recent) = read(&store, move |c| {
        let rows = audit::usage(c, token, &since)?;
        let recent = audit::list(
            c,
            &AuditFilter {
                token: Some(token),
                limit: 50,
                ..AuditFilter::default()
            },
        )?;
        Ok::<_, ManageError>((rows, recent))
    })
    .await?;
    let per_day: Vec<_> = days
        .iter()
        .map(|d| {
            let row = rows.iter().find(|r| &r.day == d);
            json!({
                "day": d,
                "ok": row.map_or(0, |r| r.ok),
                "errors": row.map_or(0, |r| r.errors),
                "rate_limited": row.map_or(0, |r| r.rate_limited),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "token": view(&t, &auth),
        "days": per_day,
        "recent": recent.iter().map(super::audit::entry_json).collect::<Vec<_>>(),
    })))
}
