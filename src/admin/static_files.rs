//! The page's static files, embedded at compile time: no build step, no CDN, works offline.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "static/admin/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(path).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(file.data.into_owned()))
}

/// `GET /admin/` and `GET /admin/setup`: the one page.
pub async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

/// `GET /admin`: to the page, with the slash its relative links need.
pub async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

/// `GET /admin/{file}`: a script, a style sheet, an icon.
pub async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let name = req.match_info().get("file").unwrap_or_default();
    if name == "index.html" || name.contains("..") {
        return Err(ApiError::NotFound);
    }
    serve(name)
}
