//! List parameters and opaque cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::clock;
use crate::error::ApiError;
use crate::resources::{FieldError, FieldKind, Resource};
use crate::store::records::PageQuery;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 200;

/// Query parameters of a list call, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    updated_since: Option<String>,
    status: Option<String>,
}

impl ListParams {
    /// Validates the parameters into a page query.
    pub fn into_query(self, resource: &Resource) -> Result<PageQuery, ApiError> {
        let mut errors = Vec::new();
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let updated_since = self.updated_since.as_deref().and_then(|s| {
            let parsed = clock::parse_rfc3339(s);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "updated_since",
                    "must be an RFC 3339 time like 2026-01-31T09:00:00Z",
                ));
            }
            parsed
        });
        if let Some(status) = &self.status {
            let allowed = match resource.status_field().map(|f| f.kind) {
                Some(FieldKind::Enum(values)) => values,
                _ => &[][..],
            };
            if !allowed.contains(&status.as_str()) {
                errors.push(FieldError::new(
                    "status",
                    format!("must be one of: {}", allowed.join(", ")),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let after = match self.cursor.as_deref() {
            None => None,
            Some(c) => {
                Some(decode_cursor(c, updated_since.is_some()).ok_or(ApiError::InvalidCursor)?)
            }
        };
        Ok(PageQuery {
            status: self.status,
            updated_since,
            after,
            limit,
        })
    }
}

/// The cursor that continues after the row `(updated_at, id)`.
pub fn encode_cursor(updated_at: i64, id: i64, by_update: bool) -> String {
    let raw = if by_update {
        format!("u:{updated_at}:{id}")
    } else {
        format!("i:{id}")
    };
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(cursor: &str, by_update: bool) -> Option<(i64, i64)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = raw.split(':');
    let out = match (parts.next()?, by_update) {
        ("i", false) => (0, parts.next()?.parse().ok()?),
        ("u", true) => (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?),
        _ => return None,
    };
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_in_their_own_mode_only() {
        let by_id = encode_cursor(7, 42, false);
        let by_update = encode_cursor(7, 42, true);
        assert_eq!(decode_cursor(&by_id, false), Some((0, 42)));
        assert_eq!(decode_cursor(&by_update, true), Some((7, 42)));
        assert_eq!(decode_cursor(&by_id, true), None);
        assert_eq!(decode_cursor(&by_update, false), None);
        for bad in ["", "!!!", "aTo0Mjo5", "eDo0Mg"] {
            assert_eq!(decode_cursor(bad, false), None, "{bad}");
        }
    }
}
