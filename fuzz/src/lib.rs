//! Checks shared by the fuzz targets: what must hold for any JSON body, whatever the
//! validators answer.

use rusqlite::types::Value;
use serde_json::Value as Json;
use switchboard::model::UserId;
use switchboard::resources::{FieldKind, RESOURCES, Resource};
use switchboard::store::records::Row;

/// The largest body the API reads (a batch); `read_json` refuses anything longer (413).
pub const BATCH_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What `api::body::read_json` does once the bytes are in: refuse an empty or oversized
/// body, then parse with serde_json (whose recursion limit bounds the nesting).
pub fn read_body(data: &[u8]) -> Option<Json> {
    if data.is_empty() || data.len() > BATCH_BODY_LIMIT {
        return None;
    }
    serde_json::from_slice(data).ok()
}

/// Runs every validator of every resource on `body` and checks their answers agree.
pub fn check_body(body: &Json) {
    // What the idempotency hash reads; must not panic.
    let _ = body.to_string();
    for res in RESOURCES {
        check_resource(res, body);
    }
}

/// The checks for one resource.
pub fn check_resource(res: &'static Resource, body: &Json) {
    let created = res.validate_create(body, "");
    // The batch endpoint validates each record with a `records[i].` prefix: the same
    // verdict, with the prefix on every field name.
    let in_batch = res.validate_create(body, "records[7].");
    match (&created, &in_batch) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a.len(), b.len());
            for (a, b) in a.iter().zip(b) {
                assert_eq!(a.message, b.message);
                if !body.is_object() {
                    assert_eq!(b.field, "records[7]");
                } else {
                    assert_eq!(format!("records[7].{}", a.field), b.field);
                }
            }
        }
        _ => panic!("prefix changed the verdict: {created:?} vs {in_batch:?}"),
    }

    let patched = res.validate_patch(body);
    match &patched {
        Ok(changes) => {
            let mut last = None;
            for (i, v) in changes {
                assert!(*i < res.fields.len());
                assert!(last < Some(*i), "indices must be increasing");
                last = Some(*i);
                check_kind(res, *i, v);
            }
        }
        Err(errors) => assert!(!errors.is_empty()),
    }

    let Ok(values) = created else {
        assert!(!created.unwrap_err().is_empty());
        return;
    };
    assert_eq!(values.len(), res.fields.len());
    for (i, (field, v)) in res.fields.iter().zip(&values).enumerate() {
        if field.required || field.default.is_some() {
            assert_ne!(*v, Value::Null, "{} must be set", field.name);
        }
        check_kind(res, i, v);
    }
    assert!(res.check_consistency(&values, "").is_ok());

    // A body without nulls that creates also patches, to the same values.
    let obj = body.as_object().expect("created from an object");
    if obj.values().all(|v| !v.is_null()) {
        let changes = patched.expect("a valid create body is a valid patch");
        for (i, v) in &changes {
            assert_eq!(*v, values[*i], "{}", res.fields[*i].name);
        }
        assert_eq!(changes.len(), obj.len());
    }

    // What the API shows for the record can be sent back and means the same record.
    let row = Row {
        id: 1,
        owner_id: UserId(1),
        created_at: 0,
        updated_at: 0,
        values: values.clone(),
    };
    let mut shown = serde_json::to_value(res.view(&row)).expect("a record serializes");
    let shown_obj = shown.as_object_mut().expect("a record is an object");
    for k in ["id", "owner_id", "created_at", "updated_at"] {
        assert!(shown_obj.remove(k).is_some(), "{k} is shown");
    }
    match res.validate_create(&shown, "") {
        Ok(again) => assert_eq!(again, values, "shown as {shown}"),
        Err(e) => panic!("the record as shown ({shown}) is refused: {e:?}"),
    }
}

/// A validated value has the storage type its field's kind implies.
fn check_kind(res: &Resource, i: usize, v: &Value) {
    let field = &res.fields[i];
    match (field.kind, v) {
        (_, Value::Null) => {}
        (
            FieldKind::Text { .. }
            | FieldKind::Email
            | FieldKind::Phone
            | FieldKind::Enum(_)
            | FieldKind::Date
            | FieldKind::Currency,
            Value::Text(_),
        ) => {}
        (FieldKind::Integer { min, max }, Value::Integer(n)) => {
            assert!((min..=max).contains(n), "{}", field.name)
        }
        (FieldKind::Reference(_), Value::Integer(n)) => assert!(*n > 0),
        (FieldKind::Instant, Value::Integer(_)) => {}
        (kind, v) => panic!("{}: {kind:?} stored as {v:?}", field.name),
    }
}
