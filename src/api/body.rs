//! Reading a JSON body: content type first (415), then size (413), then syntax (400).

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::ApiError;

/// The largest single-record body.
pub const RECORD_BODY_LIMIT: usize = 64 * 1024;
/// The largest batch body (500 records).
pub const BATCH_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// A body must arrive within this long: a client trickling bytes (slowloris) is cut off.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// True when the request's content type is JSON (`application/json` with any parameters,
/// or, for PATCH, `application/merge-patch+json`).
fn is_json(req: &HttpRequest, allow_merge_patch: bool) -> bool {
    let Some(ct) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (allow_merge_patch && essence.eq_ignore_ascii_case("application/merge-patch+json"))
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    allow_merge_patch: bool,
) -> Result<Value, ApiError> {
    let body = read_body(req, payload, limit, allow_merge_patch).await?;
    serde_json::from_slice(&body).map_err(invalid_json)
}

/// The body's JSON syntax error, as the client is told it.
pub fn invalid_json(e: serde_json::Error) -> ApiError {
    ApiError::InvalidJson(e.to_string())
}

/// Reads a JSON body of at most `limit` bytes, not empty, for the caller to parse.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    allow_merge_patch: bool,
) -> Result<web::BytesMut, ApiError> {
    if !is_json(req, allow_merge_patch) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let read = async {
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::InvalidJson(format!("the body could not be read: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = actix_web::rt::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| ApiError::RequestTimeout)??;
    if body.is_empty() {
        return Err(ApiError::InvalidJson("the body is empty".into()));
    }
    Ok(body)
}
