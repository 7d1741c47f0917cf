//! The Developer API at `/api/v1`.

pub(crate) mod body;
pub mod idempotency;
mod me;
pub mod openapi;
mod openapi_ops;
mod pagination;
mod records;
mod telemetry;

use actix_web::http::header::ALLOW;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::resources::RESOURCES;

/// Registers `/api/v1`. Routing comes first, so an unknown path or method is answered
/// 404/405 before any credential is looked at. Every GET also answers HEAD (RFC 9110 asks it
/// of every server; actix sends a HEAD answer's headers without its body), after the routes
/// of the other methods so that those find their route first.
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
                    .route(web::head().to(openapi::openapi_json))
                    .default_service(allow_only("GET, HEAD")),
            )
            .service(
                web::resource("/me")
                    .route(web::get().to(me::me))
                    .route(web::head().to(me::me))
                    .default_service(allow_only("GET, HEAD")),
            )
            .configure(record_routes)
            .default_service(web::to(not_found)),
    );
}

/// Each resource's routes under its own static path (`/leads`, `/leads/batch`,
/// `/leads/{id}`), the resource riding along as route data: the router compares strings for
/// the collection routes and runs one pattern for an item, where `/{resource}/...` cost three
/// pattern matches per call (5% of a point read's CPU).
fn record_routes(cfg: &mut web::ServiceConfig) {
    for res in RESOURCES {
        let base = format!("/{}", res.plural);
        let this = records::RouteResource(res);
        cfg.service(
            web::resource(base.clone())
                .app_data(this)
                .route(web::get().to(records::list_records))
                .route(web::post().to(records::create_record))
                .route(web::head().to(records::list_records))
                .default_service(allow_only("GET, HEAD, POST")),
        )
        .service(
            web::resource(format!("{base}/batch"))
                .app_data(this)
                .route(web::post().to(records::create_batch))
                .default_service(allow_only("POST")),
        )
        .service(
            web::resource(format!("{base}/{{id}}"))
                .app_data(this)
                .route(web::get().to(records::get_record))
                .route(web::patch().to(records::update_record))
                .route(web::delete().to(records::delete_record))
                .route(web::head().to(records::get_record))
                .default_service(allow_only("GET, HEAD, PATCH, DELETE")),
        );
    }
}

/// Any path nobody serves.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// The answer to a method a known path does not serve: 405 with the `Allow` header RFC 9110
/// asks for. (An unknown resource matches no route: 404.)
pub fn allow_only(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut res = HttpResponse::from_error(ApiError::MethodNotAllowed);
        res.headers_mut().insert(
            ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        res
    })
}
