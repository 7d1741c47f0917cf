//! A stored record as the API shows it, written as JSON text straight from its columns:
//! `{"id", "owner_id", the fields in column order, "created_at", "updated_at"}`.
//!
//! Written by hand rather than through serde: the keys are the catalog's plain names, copied
//! as they are, where serde_json's map serializer escaped each key and value through its
//! state machine (the record's JSON was a sixth of a point read's own CPU); strings go through
//! `json_string`. The text is byte for byte what serde_json writes for the same record; the
//! tests pin that.

use rusqlite::types::ValueRef;
use serde::ser::Error as _;

use super::{FieldKind, Resource};
use crate::clock;
use crate::json_string;
use crate::store::records::Columns;

/// Appends the record in `row` to `out`.
pub(super) fn write_record<C: Columns>(
    res: &Resource,
    row: &C,
    out: &mut String,
) -> Result<(), serde_json::Error> {
    let stored = |e: rusqlite::Error| serde_json::Error::custom(format!("stored record: {e}"));
    let (id, owner_id, created_at, updated_at) = row.common().map_err(stored)?;
    out.push_str("{\"id\":");
    out.push_str(itoa::Buffer::new().format(id));
    out.push_str(",\"owner_id\":");
    out.push_str(itoa::Buffer::new().format(owner_id.0));
    for (i, field) in res.fields.iter().enumerate() {
        key(out, field.name);
        match (field.kind, row.field(i).map_err(stored)?) {
            (_, ValueRef::Null | ValueRef::Blob(_)) => out.push_str("null"),
            (FieldKind::Instant, ValueRef::Integer(ms)) => stamp(out, ms),
            (_, ValueRef::Integer(n)) => out.push_str(itoa::Buffer::new().format(n)),
            // No field holds one; as serde_json writes it (`null` when not finite).
            (_, ValueRef::Real(f)) => out.push_str(&serde_json::to_string(&f)?),
            (_, ValueRef::Text(t)) => json_string::push(
                out,
                std::str::from_utf8(t).map_err(serde_json::Error::custom)?,
            ),
        }
    }
    key(out, "created_at");
    stamp(out, created_at);
    key(out, "updated_at");
    stamp(out, updated_at);
    out.push('}');
    Ok(())
}

/// `,"name":`. Every key is a catalog name of lower-case letters and underscores (a test
/// checks), which JSON writes as it is.
fn key(out: &mut String, name: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
}

fn stamp(out: &mut String, ms: i64) {
    out.push('"');
    clock::push_ms(out, ms);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rusqlite::types::Value;
    use serde::ser::{Serialize, SerializeMap, Serializer};

    use super::*;
    use crate::model::UserId;
    use crate::resources::RESOURCES;
    use crate::store::records::Row;

    /// The record as serde_json wrote it before `write_record`: a map of the same entries.
    struct ThroughSerde<'a>(&'static Resource, &'a Row);

    impl Serialize for ThroughSerde<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let (res, row) = (self.0, self.1);
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("id", &row.id)?;
            map.serialize_entry("owner_id", &row.owner_id)?;
            for (field, value) in res.fields.iter().zip(&row.values) {
                match (field.kind, value) {
                    (_, Value::Null | Value::Blob(_)) => map.serialize_entry(field.name, &())?,
                    (FieldKind::Instant, Value::Integer(ms)) => {
                        map.serialize_entry(field.name, &clock::Stamp(*ms))?
                    }
                    (_, Value::Integer(n)) => map.serialize_entry(field.name, n)?,
                    (_, Value::Real(f)) => map.serialize_entry(field.name, f)?,
                    (_, Value::Text(t)) => map.serialize_entry(field.name, t)?,
                }
            }
            map.serialize_entry("created_at", &clock::Stamp(row.created_at))?;
            map.serialize_entry("updated_at", &clock::Stamp(row.updated_at))?;
            map.end()
        }
    }

    fn check(res: &'static Resource, row: &Row) {
        let mut written = String::new();
        write_record(res, row, &mut written).unwrap();
        let expected = serde_json::to_string(&ThroughSerde(res, row)).unwrap();
        assert_eq!(written, expected, "{}", res.plural);
    }

    fn row(values: Vec<Value>, created_at: i64, updated_at: i64) -> Row {
        Row {
            id: 41,
            owner_id: UserId(7),
            created_at,
            updated_at,
            values,
        }
    }

    #[test]
    fn keys_need_no_escape() {
        for res in RESOURCES {
            for field in res.fields {
                assert!(
                    field
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{}",
                    field.name
                );
            }
        }
    }

    #[test]
    fn chosen_records_are_written_as_serde_json_writes_them() {
        let texts = [
            "",
            "Ada",
            "quote \" and backslash \\",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "é ü 日本 🦀",
            "/slash/ and </script>",
        ];
        let stamps = [
            0,
            -1,
            1_767_225_600_123,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
        ];
        for res in RESOURCES {
            for (k, text) in texts.iter().enumerate() {
                let values = res
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| match (i + k) % 5 {
                        0 => Value::Null,
                        1 if matches!(f.kind, FieldKind::Instant) => Value::Integer(stamps[k]),
                        1 => Value::Integer(-9_007_199_254_740_993),
                        2 => Value::Real([1.5, -0.0, f64::NAN, 1e300, f64::INFINITY][k % 5]),
                        3 => Value::Blob(vec![1, 2]),
                        _ => Value::Text((*text).to_owned()),
                    })
                    .collect();
                check(res, &row(values, stamps[k], stamps[(k + 1) % stamps.len()]));
            }
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            any::<f64>().prop_map(Value::Real),
            any::<String>().prop_map(Value::Text),
            "[\\x00-\\x7f]{0,40}".prop_map(Value::Text),
            "[a-z\"\\\\\\x00-\\x1f\\x7f-\\u{ff}]{0,40}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Blob),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn random_records_are_written_as_serde_json_writes_them(
            which in 0..RESOURCES.len(),
            values in proptest::collection::vec(value(), 16),
            created_at in any::<i64>(),
            updated_at in -100_000_000_000_000i64..300_000_000_000_000,
        ) {
            let res = RESOURCES[which];
            let values = values.into_iter().take(res.fields.len()).collect();
            check(res, &row(values, created_at, updated_at));
        }
    }
}
