//! `/admin/api/webhooks` and `/admin/api/deliveries`: the account's endpoints and what was
//! sent to them (admins only). A signing secret is shown when it is made, never again.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, path_id};
use super::session::AdminSession;
use super::{change, read};
use crate::auth::AuthState;
use crate::clock;
use crate::error::ApiError;
use crate::manage::views::EndpointView;
use crate::manage::webhooks as manage_webhooks;
use crate::model::EndpointId;
use crate::store::webhooks::{self as store_webhooks, Endpoint};
use crate::store::{Store, fanout};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    enabled: bool,
}

/// `PATCH /admin/api/webhooks/{id}`: pause (new deliveries wait) or resume (they go out).
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let e = load(&store, &who, &id).await?;
    let b: EndpointPatch = body::parse(&req, payload).await?;
    let e = change(&store, &auth, "enabled", move |c| {
        manage_webhooks::set_enabled(c, e.id, b.enabled)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&e)))
}

/// `POST /admin/api/webhooks/{id}/rotate-secret`: answers the new secret, this once.
pub async fn rotate_secret(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let e = load(&store, &who, &id).await?;
    let e = change(&store, &auth, "id", move |c| {
        manage_webhooks::rotate_secret(c, e.id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(with_secret(&e)))
}

/// `POST /admin/api/webhooks/{id}/test`: queues a `webhook.test` delivery to this endpoint.
pub async fn send_test(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let e = load(&store, &who, &id).await?;
    let d = change(&store, &auth, "id", move |c| {
        manage_webhooks::send_test(c, e.id)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(d))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    endpoint_id: Option<i64>,
    status: Option<String>,
    limit: Option<u32>,
}

/// `GET /admin/api/deliveries`: newest first, by endpoint and status.
pub async fn deliveries(
    who: AdminSession,
    q: web::Query<DeliveryQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let endpoint = match q.endpoint_id {
        Some(id) => Some(load(&store, &who, &id.to_string()).await?.id),
        None => None,
    };
    let account = who.account_id();
    let q = q.into_inner();
    // Events queued since the delivery worker's last claim get their deliveries first, so that
    // the list shows the changes committed before it was asked for: a write per `BATCH`
    // events, which the API's writes go between, up to `BEFORE_A_LIST` of them. Best effort:
    // a writer too busy to take them leaves the list to show what is made.
    for _ in 0..fanout::BEFORE_A_LIST {
        let step = store
            .writer()
            .write(|c| fanout::fan_out(c, fanout::BATCH, clock::now_ms()))
            .await;
        match step {
            Ok(step) if step.more => {}
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "listing webhook deliveries without making the newest");
                break;
            }
        }
    }
    let list = read(&store, move |c| {
        manage_webhooks::list_deliveries(
            c,
            Some(account),
            endpoint,
            q.status.as_deref().filter(|s| !s.is_empty()),
            q.limit.unwrap_or(100),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /admin/api/deliveries/{id}/replay`: sends it again with the same `webhook-id`.
pub async fn replay(
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let id = path_id(&id)?;
    let account = who.account_id();
    let d = change(&store, &auth, "id", move |c| {
        let d = manage_webhooks::require_delivery(c, id)?;
        if d.account_id != account {
            return Err(crate::manage::ManageError::NotFound(format!(
                "no webhook delivery with id {id}"
            )));
        }
        manage_webhooks::replay(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(d))
}
