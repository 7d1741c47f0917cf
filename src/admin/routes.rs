//! The admin routes. Everything under `/admin` carries the security headers; routing comes
//! first, so an unknown path or method is 404/405 before a session is looked at.

use actix_web::middleware::from_fn;
use actix_web::{Resource, web};

use super::{account, audit, headers, login, static_files, tokens, users, webhooks};
use crate::error::ApiError;

async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
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
            .service(resource("").route(web::get().to(static_files::to_index)))
            .service(resource("/").route(web::get().to(static_files::index)))
            .service(resource("/setup").route(web::get().to(static_files::index)))
            .service(resource("/{file}").route(web::get().to(static_files::asset)))
            .default_service(web::to(not_found)),
    );
}

fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/login").route(web::post().to(login::login)))
        .service(resource("/logout").route(web::post().to(login::logout)))
        .service(resource("/me").route(web::get().to(login::me)))
        .service(
            resource("/setup")
                .route(web::get().to(login::setup_status))
                .route(web::post().to(login::setup)),
        )
        .service(
            resource("/tokens")
                .route(web::get().to(tokens::list))
                .route(web::post().to(tokens::create)),
        )
        .service(
            resource("/tokens/{id}")
                .route(web::get().to(tokens::show))
                .route(web::patch().to(tokens::update)),
        )
        .service(resource("/tokens/{id}/revoke").route(web::post().to(tokens::revoke)))
        .service(resource("/tokens/{id}/rotate").route(web::post().to(tokens::rotate)))
        .service(resource("/tokens/{id}/usage").route(web::get().to(tokens::usage)))
        .service(
            resource("/users")
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(resource("/users/{id}").route(web::patch().to(users::update)))
        .service(
            resource("/account")
                .route(web::get().to(account::show))
                .route(web::patch().to(account::update)),
        )
        .service(resource("/audit").route(web::get().to(audit::list)))
        .service(
            resource("/webhooks")
                .route(web::get().to(webhooks::list))
                .route(web::post().to(webhooks::create)),
        )
        .service(resource("/webhooks/events").route(web::get().to(webhooks::event_types)))
        .service(
            resource("/webhooks/{id}")
                .route(web::patch().to(webhooks::update))
                .route(web::delete().to(webhooks::remove)),
        )
        .service(
            resource("/webhooks/{id}/rotate-secret").route(web::post().to(webhooks::rotate_secret)),
        )
        .service(resource("/webhooks/{id}/test").route(web::post().to(webhooks::send_test)))
        .service(resource("/deliveries").route(web::get().to(webhooks::deliveries)))
        .service(resource("/deliveries/{id}/replay").route(web::post().to(webhooks::replay)));
}
