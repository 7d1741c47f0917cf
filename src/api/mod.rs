//! The Developer API at `/api/v1`.

pub(crate) mod body;
pub mod idempotency;
mod me;
pub mod openapi;
mod openapi_ops;
mod pagination;
mod records;
mod telemetry;

use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::web;

use crate::error::ApiError;

/// Registers `/api/v1`. Routing comes first, so an unknown path or method is answered
/// 404/405 before any credential is looked at.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(telemetry::record_call))
            // Answers are per caller and may hold personal data: never cached, never sniffed.
            .wrap(
                DefaultHeaders::new()
                    .add(("cache-control", "no-store"))
                    .add(("x-content-type-options", "nosniff")),
            )
            .service(
                web::resource("/openapi.json")
                    .route(web::get().to(openapi::openapi_json))
                    .default_service(web::to(records::method_not_allowed)),
            )
            .service(
                web::resource("/me")
                    .route(web::get().to(me::me))
                    .default_service(web::to(records::method_not_allowed)),
            )
            .service(
                web::resource("/{resource}")
                    .route(web::get().to(records::list_records))
                    .route(web::post().to(records::create_record))
                    .default_service(web::to(records::method_not_allowed)),
            )
            .service(
                web::resource("/{resource}/batch")
                    .route(web::post().to(records::create_batch))
                    .default_service(web::to(records::method_not_allowed)),
            )
            .service(
                web::resource("/{resource}/{id}")
                    .route(web::get().to(records::get_record))
                    .route(web::patch().to(records::update_record))
                    .route(web::delete().to(records::delete_record))
                    .default_service(web::to(records::method_not_allowed)),
            )
            .default_service(web::to(not_found)),
    );
}

/// Any path nobody serves.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
