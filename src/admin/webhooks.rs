//! `/admin/api/webhooks` and `/admin/api/deliveries`: the account's endpoints and what was
//! sent to them (admins only). A signing secret is shown when it is made, never again.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, path_id};
use super::session::AdminSession;
use super::{change, read};
use crate::auth::AuthState;
use crate::error::ApiError;
use crate::manage::views::EndpointView;
use crate::manage::webhooks as manage_webhooks;
use crate::model::EndpointId;
use crate::store::Store;
use crate::store::webhooks::{self as store_webhooks, Endpoint};

/// An endpoint of the session's account, or not found.
async fn load(store: &Store, who: &AdminSession, id: &str) -> Result<Endpoint, ApiError> {
    let id = EndpointId(path_id(id)?);
    let e = read(store, move |c| Ok(store_webhooks::find_endpoint(c, id)?)).await?;
    e.filter(|e| e.account_id == who.account_id())
        .ok_or(ApiError::NotFound)
}

fn with_secret(e: &Endpoint) -> serde_json::Value {
    let mut v = serde_json::to_value(EndpointView::from(e)).unwrap_or_default();
    v["secret"] = json!(e.secret);
    v
}

/// `GET /admin/api/webhooks`
pub async fn list(who: AdminSession, store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let account = who.account_id();
    let list = read(&store, move |c| {
        Ok(store_webhooks::list_endpoints(c, Some(account))?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list.iter().map(EndpointView::from).collect::<Vec<_>>()))
}

/// `GET /admin/api/webhooks/events`: the event types an endpoint may subscribe to.
pub async fn event_types(who: AdminSession) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    Ok(HttpResponse::Ok().json(manage_webhooks::event_types()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /admin/api/webhooks`: answers the secret, this once.
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let b: NewEndpoint = body::parse(&req, payload).await?;
    let account = who.who.account_name.clone();
    let field = if b.url.starts_with("http") {
        "events"
    } else {
        "url"
    };
    let added = change(&store, &auth, field, move |c| {
        let description = b.description.as_deref().filter(|d| !d.trim().is_empty());
        manage_webhooks::add(c, &account, b.url.trim(), &b.events, description)
    })
    .await?;
    Ok(HttpResponse::Created().json(with_secret(&added.endpoint)))
}

/// `DELETE /admin/api/webhooks/{id}`: the endpoint and its deliveries.
pub async fn remove(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let e = load(&store, &who, &id).await?;
    change(&store, &auth, "id", move |c| {
        manage_webhooks::remove(c, e.id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
