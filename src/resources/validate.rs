//! Validation of client bodies against a resource's description, with a message per field.

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
        let mut errors = unknown_fields(self, obj, at);
        let mut values = Vec::with_capacity(self.fields.len());
        for field in self.fields {
            let value = match obj.get(field.name) {
                None | Some(Json::Null) if field.required => {
                    errors.push(FieldError::new(
                        format!("{at}{}", field.name),
                        "is required",
                    ));
                    Value::Null
                }
                // `null` means "not given": a field with a default gets it (a NULL status
                // would break the NOT NULL column and answer 500).
                None | Some(Json::Null) => field
                    .default
                    .map_or(Value::Null, |d| Value::Text(d.to_owned())),
                Some(v) => convert(field, v).unwrap_or_else(|msg| {
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

    /// Validates a PATCH body (JSON merge patch): the changed columns by index.
    /// `null` clears an optional field and is refused for a required one.
    pub fn validate_patch(&self, body: &Json) -> Result<Vec<(usize, Value)>, Vec<FieldError>> {
        let obj = as_object(body, "")?;
        let mut errors = unknown_fields(self, obj, "");
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
                Some(v) => match convert(field, v) {
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
        let get = |name: &str| {
            self.fields
                .iter()
                .position(|f| f.name == name)
                .and_then(|i| values.get(i))
        };
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

fn as_object<'a>(body: &'a Json, at: &str) -> Result<&'a Map<String, Json>, Vec<FieldError>> {
    body.as_object().ok_or_else(|| {
        let field = if at.is_empty() {
            "(body)".to_owned()
        } else {
            at.trim_end_matches('.').to_owned()
        };
        vec![FieldError::new(field, "must be a JSON object")]
    })
}

fn unknown_fields(resource: &Resource, obj: &Map<String, Json>, at: &str) -> Vec<FieldError> {
    obj.keys()
        .filter(|k| !resource.fields.iter().any(|f| f.name == k.as_str()))
        .map(|k| {
            let msg = if SERVER_OWNED.contains(&k.as_str()) {
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

fn text(v: &Json) -> Result<&str, String> {
    v.as_str().ok_or_else(|| "must be a string".to_owned())
}

fn convert(field: &Field, v: &Json) -> Result<Value, String> {
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
        FieldKind::Integer { min, max } => match v.as_i64() {
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
        FieldKind::Reference(target) => match v.as_i64() {
            Some(n) if n > 0 => Ok(Value::Integer(n)),
            _ => Err(format!("must be the id of a {}", target.singular)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{APPOINTMENTS, INVOICES, LEADS};
    use serde_json::json;

    fn fields(errors: Vec<super::FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_minimal_lead_gets_its_default_status() {
        let values = LEADS.validate_create(&json!({"name": "Ada"}), "").unwrap();
        assert_eq!(values[4], rusqlite::types::Value::Text("new".into()));
    }

    #[test]
    fn a_null_status_on_create_means_the_default() {
        // Found by schemathesis: a null status reached the NOT NULL column and answered 500.
        let values = LEADS
            .validate_create(&json!({"name": "Ada", "status": null}), "")
            .unwrap();
        assert_eq!(values[4], rusqlite::types::Value::Text("new".into()));
    }

    #[test]
    fn bad_create_bodies_name_every_bad_field() {
        let cases = [
            (json!({}), vec!["name"], "required field missing"),
            (json!({"name": ""}), vec!["name"], "required text empty"),
            (
                json!({"name": "A", "status": "maybe"}),
                vec!["status"],
                "unknown status",
            ),
            (
                json!({"name": "A", "email": "nope"}),
                vec!["email"],
                "not an email",
            ),
            (
                json!({"name": "A", "id": 5}),
                vec!["id"],
                "server-owned field",
            ),
            (
                json!({"name": "A", "colour": "red"}),
                vec!["colour"],
                "unknown field",
            ),
            (
                json!({"name": 5, "phone": "call me"}),
                vec!["name", "phone"],
                "two bad fields",
            ),
            (json!([1, 2]), vec!["(body)"], "not an object"),
        ];
        for (body, expected, why) in cases {
            let mut got = fields(LEADS.validate_create(&body, "").unwrap_err());
            got.sort();
            assert_eq!(got, expected, "{why}");
        }
    }

    #[test]
    fn invoices_check_money_dates_and_currency() {
        assert!(
            INVOICES
                .validate_create(
                    &json!({"total_cents": 1200, "currency": "EUR", "due_date": "2026-12-31"}),
                    ""
                )
                .is_ok()
        );
        for (body, why) in [
            (json!({"total_cents": -1}), "negative total"),
            (json!({"total_cents": 1.5}), "fractional total"),
            (
                json!({"total_cents": 1, "currency": "eur"}),
                "lower-case currency",
            ),
            (
                json!({"total_cents": 1, "due_date": "2026-02-30"}),
                "impossible date",
            ),
            (json!({"total_cents": 1, "job_id": 0}), "zero reference"),
        ] {
            assert!(INVOICES.validate_create(&body, "").is_err(), "{why}");
        }
    }

    #[test]
    fn an_appointment_cannot_end_before_it_starts() {
        let body = json!({"starts_at": "2026-01-01T10:00:00Z", "ends_at": "2026-01-01T09:00:00Z"});
        assert_eq!(
            fields(
                APPOINTMENTS
                    .validate_create(&body, "records[2].")
                    .unwrap_err()
            ),
            ["records[2].ends_at"]
        );
    }

    #[test]
    fn an_instant_that_cannot_be_shown_back_in_utc_is_refused() {
        // Found with the fuzz targets' round-trip check (fuzz/src/lib.rs): these were
        // accepted, then shown as 1970-01-01 and as year -0001, which is refused back.
        for at in ["9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+01:00"] {
            let body = json!({ "starts_at": at });
            assert_eq!(
                fields(APPOINTMENTS.validate_create(&body, "").unwrap_err()),
                ["starts_at"],
                "{at}"
            );
            assert!(APPOINTMENTS.validate_patch(&body).is_err(), "{at}");
        }
    }

    #[test]
    fn patch_clears_optional_fields_and_refuses_clearing_required_ones() {
        assert_eq!(
            LEADS.validate_patch(&json!({"email": null})).unwrap().len(),
            1
        );
        assert_eq!(
            fields(LEADS.validate_patch(&json!({"name": null})).unwrap_err()),
            ["name"]
        );
        assert_eq!(
            fields(LEADS.validate_patch(&json!({"status": null})).unwrap_err()),
            ["status"]
        );
    }
}
