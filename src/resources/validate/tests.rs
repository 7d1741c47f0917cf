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
