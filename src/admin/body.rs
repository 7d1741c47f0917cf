//! Admin request bodies: JSON only (the API's reader: 415, 413, 400), then typed, with
//! unknown or missing fields named in a 422.

use actix_web::{HttpRequest, web};
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::api::body::read_json;
use crate::error::ApiError;
use crate::resources::FieldError;

/// The largest admin body.
const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// Reads a JSON body into `T`.
pub async fn parse<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let value = read_json(req, payload, ADMIN_BODY_LIMIT, false).await?;
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        let field = between_backticks(&msg).unwrap_or("(body)").to_owned();
        ApiError::Validation(vec![FieldError::new(field, msg)])
    })
}

fn between_backticks(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

/// For `Option<Option<T>>` fields: absent stays `None`, `null` becomes `Some(None)`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A path id: a positive integer, or the thing it names does not exist.
pub fn path_id(s: &str) -> Result<i64, ApiError> {
    match s.parse::<i64>() {
        Ok(id) if id > 0 && !s.starts_with('+') => Ok(id),
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_is_taken_from_serdes_message() {
        assert_eq!(
            super::between_backticks("unknown field `nmae`, expected one of `name`"),
            Some("nmae")
        );
        assert_eq!(super::between_backticks("invalid type: null"), None);
    }
}
