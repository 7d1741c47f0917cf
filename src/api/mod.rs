//! The Developer API at `/api/v1`.

pub(crate) mod body;
pub mod idempotency;
mod me;
pub mod openapi;
mod openapi_ops;
mod pagination;
mod records;
mod telemetry;

use std::sync::LazyLock;

use actix_web::guard::{Guard, GuardContext};
use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::ops::request_log::RouteLabel;
use crate::resources::RESOURCES;

/// Where the Developer API is served.
const SCOPE: &str = "/api/v1";

/// The content type of a JSON answer, made once: a `&str` would be copied into each answer.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Registers `/api/v1`. Routing comes first, so an unknown path or method is answered
/// 404/405 before any credential is looked at. Every GET also answers HEAD (RFC 9110 asks it
/// of every server; actix sends a HEAD answer's headers without its body), after the routes
/// of the other methods so that those find their route first.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(SCOPE)
            .wrap(from_fn(telemetry::record_call))
            // Answers are per caller and may hold personal data: never cached, never sniffed.
            .wrap(
                DefaultHeaders::new()
                    .add(("cache-control", "no-store"))
                    .add(("x-content-type-options", "nosniff")),
            )
            .service(get_or_head("/openapi.json", openapi::openapi_json))
            .service(get_or_head("/me", me::me))
            .configure(record_routes)
            .default_service(web::to(not_found)),
    );
}

/// Each resource's routes under its own static path (`/leads`, `/leads/batch`,
/// `/leads/{id}`), the resource riding along as route data: the router compares strings for
/// the collection routes and runs one pattern for an item, where `/{resource}/...` cost three
/// pattern matches per call (5% of a point read's CPU). Each route also carries its full
/// pattern, the label of its metrics and log lines (`RouteLabel`).
fn record_routes(cfg: &mut web::ServiceConfig) {
    for (res, [collection, batch, item]) in RESOURCES.iter().zip(RECORD_PATHS.iter()) {
        let this = records::RouteResource(res);
        cfg.service(
            web::resource(collection.path())
                .app_data(this)
                .app_data(collection.label())
                .route(on(Method::GET).to(records::list_records))
                .route(on(Method::POST).to(records::create_record))
                .route(on(Method::HEAD).to(records::list_records))
                .default_service(allow_only("GET, HEAD, POST")),
        )
        .service(
            web::resource(batch.path())
                .app_data(this)
                .app_data(batch.label())
                .route(on(Method::POST).to(records::create_batch))
                .default_service(allow_only("POST")),
        )
        .service(
            web::resource(item.path())
                .app_data(this)
                .app_data(item.label())
                .route(on(Method::GET).to(records::get_record))
                .route(on(Method::PATCH).to(records::update_record))
                .route(on(Method::DELETE).to(records::delete_record))
                .route(on(Method::HEAD).to(records::get_record))
                .default_service(allow_only("GET, HEAD, PATCH, DELETE")),
        );
    }
}

/// A route's full pattern, `/api/v1/leads/{id}`; its path within the scope follows `SCOPE`.
struct RecordPath(String);

impl RecordPath {
    fn new(within: String) -> RecordPath {
        RecordPath(format!("{SCOPE}{within}"))
    }

    fn path(&'static self) -> &'static str {
        &self.0[SCOPE.len()..]
    }

    fn label(&'static self) -> RouteLabel {
        RouteLabel(&self.0)
    }
}

/// Each resource's collection, batch and item patterns, in `RESOURCES`' order: made once,
/// so that a route's label is a `&'static str`.
static RECORD_PATHS: LazyLock<Vec<[RecordPath; 3]>> = LazyLock::new(|| {
    RESOURCES
        .iter()
        .map(|res| {
            let base = format!("/{}", res.plural);
            [
                RecordPath::new(base.clone()),
                RecordPath::new(format!("{base}/batch")),
                RecordPath::new(format!("{base}/{{id}}")),
            ]
        })
        .collect()
});

/// Any path nobody serves.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// The answer to a method a known path does not serve: 405 with the `Allow` header RFC 9110
/// asks for. (An unknown resource matches no route: 404.)
pub fn allow_only(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut res = HttpResponse::from_error(ApiError::MethodNotAllowed);
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        res
    })
}

/// A page served to GET and HEAD (uptime monitors often check with HEAD; actix sends the
/// headers of a HEAD answer without its body); any other method is answered 405 with `Allow`.
pub fn get_or_head<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(on(Method::GET).to(handler.clone()))
        .route(on(Method::HEAD).to(handler))
        .default_service(allow_only("GET, HEAD"))
}

/// A route for one method. actix's own method guards (`web::get()`, ...) also note each
/// method they are asked about in the request, for a 405 answer built from them: two
/// allocations a call, for an `Allow` header our routes write themselves (`allow_only`).
fn on(method: Method) -> actix_web::Route {
    web::route().guard(MethodIs(method))
}

struct MethodIs(Method);

impl Guard for MethodIs {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.head().method == self.0
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, rt};

    use super::*;

    /// A record route's label (`RouteLabel`) is the pattern actix matched the call by, for
    /// every method its resource answers and for one it refuses (405). Calls the API's
    /// routing with nothing behind it: the handlers fail, the routing is what is looked at.
    #[test]
    fn a_record_route_is_labelled_with_the_pattern_it_matched() {
        rt::System::new().block_on(async {
            let app = init_service(App::new().configure(configure)).await;
            let mut checked = 0;
            for res in RESOURCES {
                let base = format!("/api/v1/{}", res.plural);
                for path in [base.clone(), format!("{base}/batch"), format!("{base}/7")] {
                    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
                        let req = TestRequest::default()
                            .method(method.clone())
                            .uri(&path)
                            .to_request();
                        let answer = call_service(&app, req).await;
                        let label = answer.request().app_data::<RouteLabel>().map(|l| l.0);
                        let matched = answer.request().match_pattern();
                        assert!(label.is_some(), "{method} {path} has no label");
                        assert_eq!(label, matched.as_deref(), "{method} {path}");
                        checked += 1;
                    }
                }
            }
            assert_eq!(checked, RESOURCES.len() * 3 * 4);
            // Elsewhere the label is left to actix (`request_log::route_label`).
            let req = TestRequest::get().uri("/api/v1/me").to_request();
            let answer = call_service(&app, req).await;
            assert!(answer.request().app_data::<RouteLabel>().is_none());
        });
    }
}
