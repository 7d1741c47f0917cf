//! Validation of client bodies against a resource's description, with a message per field.

use std::borrow::Cow;

use rusqlite::types::Value;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{Field, FieldKind, Resource};
use crate::clock;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, e.g. `name` or `records[3].name`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

const SERVER_OWNED: [&str; 5] = ["id", "owner_id", "account_id", "created_at", "updated_at"];

impl Resource {
    /// Validates a create body; on success, the column values in order (defaults applied).
    /// `at` prefixes field names in errors (`records[3].`).
    pub fn validate_create(&self, body: &Json, at: &str) -> Result<Vec<Value>, Vec<FieldError>> {
        let obj = as_object(body, at)?;
        let given = self
            .fields
            .iter()
            .map(|f| obj.get(f.name).map(Scalar::from))
            .collect();
        self.create_values(given, obj.keys().map(String::as_str), at)
    }

    /// The column values of a create from what was given for each field (`None`: absent),
    /// and the body's keys in order (for the unknown ones). Shared by `validate_create` and
    /// `parse_create`, which reads the body straight into `given`.
    pub(super) fn create_values<'k>(
        &self,
        given: Vec<Option<Scalar<'_>>>,
        keys: impl Iterator<Item = &'k str>,
        at: &str,
    ) -> Result<Vec<Value>, Vec<FieldError>> {
        let mut errors = unknown_fields(self, keys, at);
        let mut values = Vec::with_capacity(self.fields.len());
        for (field, given) in self.fields.iter().zip(given) {
            let value = match given {
                None | Some(Scalar::Null) if field.required => {
                    errors.push(FieldError::new(
                        format!("{at}{}", field.name),
                        "is required",
                    ));
                    Value::Null
                }
                // `null` means "not given": a field with a default gets it (a NULL status
                // would break the NOT NULL column and answer 500).
                None | Some(Scalar::Null) => field
                    .default
                    .map_or(Value::Null, |d| Value::Text(d.to_owned())),
                Some(v) => convert(field, &v).unwrap_or_else(|msg| {
                    errors.push(FieldError::new(format!("{at}{}", field.name), msg));
                    Value::Null
                }),
            };
            values.push(value);
        }
        if errors.is_empty() {
            self.check_consistency(&values, at)?;
            Ok(values)
        } else {
            Err(errors)
        }
    }

    /// The position of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Validates a PATCH body (JSON merge patch): the changed columns by index.
    /// `null` clears an optional field and is refused for a required one.
    pub fn validate_patch(&self, body: &Json) -> Result<Vec<(usize, Value)>, Vec<FieldError>> {
        let obj = as_object(body, "")?;
        let mut errors = unknown_fields(self, obj.keys().map(String::as_str), "");
        let mut changes = Vec::new();
        for (i, field) in self.fields.iter().enumerate() {
            match obj.get(field.name) {
                None => {}
                Some(Json::Null) if field.required || field.default.is_some() => {
                    errors.push(FieldError::new(
                        field.name,
                        "is required and cannot be cleared",
                    ));
                }
                Some(Json::Null) => changes.push((i, Value::Null)),
                Some(v) => match convert(field, &Scalar::from(v)) {
                    Ok(value) => changes.push((i, value)),
                    Err(msg) => errors.push(FieldError::new(field.name, msg)),
                },
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }

    /// Rules across fields, checked on the whole record (after a patch is applied).
    pub fn check_consistency(&self, values: &[Value], at: &str) -> Result<(), Vec<FieldError>> {
        let get = |name: &str| self.field_index(name).and_then(|i| values.get(i));
        if let (Some(Value::Integer(start)), Some(Value::Integer(end))) =
            (get("starts_at"), get("ends_at"))
            && end < start
        {
            return Err(vec![FieldError::new(
                format!("{at}ends_at"),
                "must not be before starts_at",
            )]);
        }
        Ok(())
    }

    /// The fields of any resource that refer to this one: (resource, field index).
    pub fn referenced_by(&'static self) -> Vec<(&'static Resource, usize)> {
        super::catalog::RESOURCES
            .iter()
            .flat_map(|res| {
                res.fields
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, f)| match f.kind {
                        FieldKind::Reference(target) if std::ptr::eq(target, self) => {
                            Some((*res, i))
                        }
                        _ => None,
                    })
            })
            .collect()
    }

    /// The non-null references of a record: (field name, target resource, id).
    pub fn references<'v>(
        &'static self,
        values: impl IntoIterator<Item = (usize, &'v Value)>,
    ) -> Vec<(&'static str, &'static Resource, i64)> {
        values
            .into_iter()
            .filter_map(|(i, v)| match (self.fields[i].kind, v) {
                (FieldKind::Reference(target), Value::Integer(id)) => {
                    Some((self.fields[i].name, target, *id))
                }
                _ => None,
            })
            .collect()
    }
}

/// A field's value as validation sees it: a string, a number (as a whole number, when it is
/// one that fits), `null`, or something else (a boolean, an array, an object).
#[derive(Debug, Clone)]
pub(super) enum Scalar<'a> {
    Null,
    Str(Cow<'a, str>),
    Number(Option<i64>),
    Other,
}

impl<'a> From<&'a Json> for Scalar<'a> {
    fn from(v: &'a Json) -> Scalar<'a> {
        match v {
            Json::Null => Scalar::Null,
            Json::String(s) => Scalar::Str(Cow::Borrowed(s)),
            Json::Number(n) => Scalar::Number(n.as_i64()),
            _ => Scalar::Other,
        }
    }
}

fn as_object<'a>(body: &'a Json, at: &str) -> Result<&'a Map<String, Json>, Vec<FieldError>> {
    body.as_object().ok_or_else(|| not_an_object(at))
}

/// The error for a body (or a batch's record) that is not a JSON object.
pub(super) fn not_an_object(at: &str) -> Vec<FieldError> {
    let field = if at.is_empty() {
        "(body)".to_owned()
    } else {
        at.trim_end_matches('.').to_owned()
    };
    vec![FieldError::new(field, "must be a JSON object")]
}

fn unknown_fields<'k>(
    resource: &Resource,
    keys: impl Iterator<Item = &'k str>,
    at: &str,
) -> Vec<FieldError> {
    keys.filter(|k| resource.field_index(k).is_none())
        .map(|k| {
            let msg = if SERVER_OWNED.contains(&k) {
                "is set by the server and cannot be written"
            } else {
                "is not a field of this resource"
            };
            FieldError::new(format!("{at}{}", truncate(k, 64)), msg)
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn text<'v>(v: &'v Scalar<'_>) -> Result<&'v str, String> {
    match v {
        Scalar::Str(s) => Ok(s),
        _ => Err("must be a string".to_owned()),
    }
}

fn whole_number(v: &Scalar<'_>) -> Option<i64> {
    match v {
        Scalar::Number(n) => *n,
        _ => None,
    }
}

fn convert(field: &Field, v: &Scalar<'_>) -> Result<Value, String> {
    match field.kind {
        FieldKind::Text { max } => {
            let s = text(v)?;
            if field.required && s.trim().is_empty() {
                return Err("must not be empty".into());
            }
            if s.chars().count() > max {
                return Err(format!("must be at most {max} characters"));
            }
            if s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err("must not contain control characters".into());
            }
            Ok(Value::Text(s.to_owned()))
        }
        FieldKind::Email => {
            let s = text(v)?;
            let valid = s.chars().count() <= 254
                && s.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                })
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && s.matches('@').count() == 1;
            if valid {
                Ok(Value::Text(s.to_owned()))
            } else {
                Err("must be an email address".into())
            }
        }
        FieldKind::Phone => {
            let s = text(v)?;
            let digits = s.chars().filter(char::is_ascii_digit).count();
            let valid = s.len() <= 40
                && (3..=20).contains(&digits)
                && s.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if valid {
                Ok(Value::Text(s.to_owned()))
            } else {
                Err("must be a phone number".into())
            }
        }
        FieldKind::Enum(values) => {
            let s = text(v)?;
            if values.contains(&s) {
                Ok(Value::Text(s.to_owned()))
            } else {
                Err(format!("must be one of: {}", values.join(", ")))
            }
        }
        FieldKind::Integer { min, max } => match whole_number(v) {
            Some(n) if (min..=max).contains(&n) => Ok(Value::Integer(n)),
            Some(_) => Err(format!("must be between {min} and {max}")),
            None => Err("must be a whole number".into()),
        },
        FieldKind::Date => clock::parse_date(text(v)?)
            .map(Value::Text)
            .ok_or_else(|| "must be a date like 2026-01-31".into()),
        FieldKind::Instant => clock::parse_rfc3339(text(v)?)
            .map(Value::Integer)
            .ok_or_else(|| {
                "must be an RFC 3339 time like 2026-01-31T09:00:00Z, in years 0000 to 9999 in UTC"
                    .into()
            }),
        FieldKind::Currency => {
            let s = text(v)?;
            if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(Value::Text(s.to_owned()))
            } else {
                Err("must be a three-letter currency code like EUR".into())
            }
        }
        FieldKind::Reference(target) => match whole_number(v) {
            Some(n) if n > 0 => Ok(Value::Integer(n)),
            _ => Err(format!("must be the id of a {}", target.singular)),
        },
    }
}

#[cfg(test)]
mod tests;
