//! The admin routes. Everything under `/admin` carries the security headers; routing comes
//! first, so an unknown path or method is 404/405 (with `Allow`) before a session is looked
//! at. The page and its files answer HEAD as well as GET.

use actix_web::middleware::from_fn;
use actix_web::{Resource, web};

use super::{account, audit, headers, login, static_files, tokens, users, webhooks};
use crate::api::get_or_head;
use crate::error::ApiError;

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// A route's resource; any other method is answered 405 with `Allow: allow`.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(crate::api::allow_only(allow))
}

/// Registers `/admin`: the page, its files and the JSON API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(headers::secure))
            .service(
                web::scope("/api")
                    .configure(api)
                    .default_service(web::to(not_found)),
            )
            .service(get_or_head("", static_files::to_index))
            .service(get_or_head("/", static_files::index))
            .service(get_or_head("/setup", static_files::index))
            .service(get_or_head("/{file}", static_files::asset))
            .default_service(web::to(not_found)),
    );
}

fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/login", "POST").route(web::post().to(login::login)))
        .service(resource("/logout", "POST").route(web::post().to(login::logout)))
        .service(resource("/me", "GET").route(web::get().to(login::me)))
        .service(
            resource("/setup", "GET, POST")
                .route(web::get().to(login::setup_status))
                .route(web::post().to(login::setup)),
        )
        .service(
            resource("/tokens", "GET, POST")
                .route(web::get().to(tokens::list))
                .route(web::post().to(tokens::create)),
        )
        .service(
            resource("/tokens/{id}", "GET, PATCH")
                .route(web::get().to(tokens::show))
                .route(web::patch().to(tokens::update)),
        )
        .service(resource("/tokens/{id}/revoke", "POST").route(web::post().to(tokens::revoke)))
        .service(resource("/tokens/{id}/rotate", "POST").route(web::post().to(tokens::rotate)))
        .service(resource("/tokens/{id}/usage", "GET").route(web::get().to(tokens::usage)))
        .service(
            resource("/users", "GET, POST")
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(resource("/users/{id}", "PATCH").route(web::patch().to(users::update)))
        .service(
            resource("/account", "GET, PATCH")
                .route(web::get().to(account::show))
                .route(web::patch().to(account::update)),
        )
        .service(resource("/audit", "GET").route(web::get().to(audit::list)))
        .service(
            resource("/webhooks", "GET, POST")
                .route(web::get().to(webhooks::list))
                .route(web::post().to(webhooks::create)),
        )
        .service(resource("/webhooks/events", "GET").route(web::get().to(webhooks::event_types)))
        .service(
            resource("/webhooks/{id}", "PATCH, DELETE")
                .route(web::patch().to(webhooks::update))
                .route(web::delete().to(webhooks::remove)),
        )
        .service(
            resource("/webhooks/{id}/rotate-secret", "POST")
                .route(web::post().to(webhooks::rotate_secret)),
        )
        .service(resource("/webhooks/{id}/test", "POST").route(web::post().to(webhooks::send_test)))
        .service(resource("/deliveries", "GET").route(web::get().to(webhooks::deliveries)))
        .service(
            resource("/deliveries/{id}/replay", "POST").route(web::post().to(webhooks::replay)),
        );
}
