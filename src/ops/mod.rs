//! Operations: health and readiness, metrics, the request log, backups and the API's own
//! documentation page.

pub mod backup;
pub mod docs;
pub mod health;
pub mod metrics;
pub mod request_log;

use actix_web::{FromRequest, Handler, Resource, Responder, web};

/// A page served to GET and HEAD (uptime monitors often check with HEAD; actix sends the
/// headers of a HEAD answer without its body); any other method is answered 405 with `Allow`.
fn get_or_head<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(crate::api::allow_only("GET, HEAD"))
}
