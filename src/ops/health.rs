//! `GET /healthz` (the process answers) and `GET /readyz` (the database is usable).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::store::Store;

/// Registers the health routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(store: web::Data<Store>) -> HttpResponse {
    let store = store.into_inner();
    let ok = web::block(move || {
        store.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
    })
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(json!({ "type": "urn:switchboard:problem:not_ready", "title": "Not ready", "status": 503,
                          "detail": "The database is not usable.", "code": "not_ready" }))
    }
}
