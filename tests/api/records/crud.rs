//! Create, read, update, delete and HEAD on every resource, and the errors of bad bodies and ids.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn minimal(resource: &str) -> Value {
    match resource {
        "leads" => json!({"name": "Ada Lovelace"}),
        "jobs" => json!({"title": "Fix the boiler"}),
        "invoices" => json!({"total_cents": 12_500}),
        "appointments" => json!({"starts_at": "2026-12-01T09:00:00Z"}),
        _ => unreachable!(),
    }
}

const RESOURCES: [(&str, &str); 4] = [
    ("leads", "new"),
    ("jobs", "scheduled"),
    ("invoices", "draft"),
    ("appointments", "booked"),
];

#[test]
fn every_resource_goes_through_create_read_update_list_delete() {
    let app = spawn_app();
    let t = app.admin_token();
    for (resource, default_status) in RESOURCES {
        let created = app.post(&format!("/api/v1/{resource}"), &t, &minimal(resource));
        assert_eq!(created.status, 201, "{resource}: {}", created.text);
        let rec = created.json();
        let id = rec["id"].as_i64().unwrap();
        assert_eq!(
            created.header("location"),
            Some(&*format!("/api/v1/{resource}/{id}"))
        );
        assert_eq!(rec["status"], default_status);
        assert!(rec["owner_id"].as_i64().unwrap() > 0);
        assert!(rec["created_at"].as_str().unwrap().ends_with('Z'));

        let path = format!("/api/v1/{resource}/{id}");
        let read = app.get(&path, &t);
        assert_eq!(read.json(), rec);
        // The read answers the created record's very bytes, as JSON.
        assert_eq!(read.text, created.text, "{resource}");
        assert_eq!(read.header("content-type"), Some("application/json"));

        let patched = app.patch(&path, &t, &json!({"status": default_status}));
        assert_eq!(patched.status, 200, "{resource}: {}", patched.text);

        let list = app.get(&format!("/api/v1/{resource}"), &t).json();
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert!(list["next_cursor"].is_null());

        assert_eq!(app.delete(&path, &t).status, 204);
        assert_eq!(app.get(&path, &t).code(), "not_found");
        assert_eq!(app.delete(&path, &t).code(), "not_found");
    }
}

/// A deleted record's id never comes back: the record created after the newest was deleted
/// takes a new one, as the one after it does, for every resource.
#[test]
fn a_deleted_records_id_is_never_handed_out_again() {
    let app = spawn_app();
    let t = app.admin_token();
    for (resource, _) in RESOURCES {
        let create = || {
            let r = app.post(&format!("/api/v1/{resource}"), &t, &minimal(resource));
            assert_eq!(r.status, 201, "{resource}: {}", r.text);
            r.json()["id"].as_i64().unwrap()
        };
        let (older, newest) = (create(), create());
        let path = format!("/api/v1/{resource}/{newest}");
        assert_eq!(app.delete(&path, &t).status, 204);
        let next = create();
        assert!(next > newest, "{resource}: {next} after deleting {newest}");
        assert_eq!(app.get(&path, &t).code(), "not_found", "{resource}");
        // The newest, then the one below it: the next ids are above both, one after another.
        for id in [next, older] {
            let path = format!("/api/v1/{resource}/{id}");
            assert_eq!(app.delete(&path, &t).status, 204);
        }
        let (a, b) = (create(), create());
        assert!(
            a > next && b == a + 1,
            "{resource}: {a}, {b} after deleting {next}"
        );
    }
}

#[test]
fn patch_null_clears_an_optional_field_and_refuses_a_required_one() {
    let app = spawn_app();
    let t = app.admin_token();
    let id = app
        .post(
            "/api/v1/leads",
            &t,
            &json!({"name": "A", "email": "a@example.com"}),
        )
        .json()["id"]
        .clone();
    let path = format!("/api/v1/leads/{id}");
    let r = app.patch(&path, &t, &json!({"email": null}));
    assert_eq!(r.json()["email"], Value::Null);
    let r = app.patch(&path, &t, &json!({"name": null}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "name");
    let merge = app.send(
        "PATCH",
        &path,
        &[
            ("authorization", &format!("Bearer {t}")),
            ("content-type", "application/merge-patch+json"),
        ],
        Some(br#"{"notes":"called back"}"#),
    );
    assert_eq!(merge.json()["notes"], "called back");
}

#[test]
fn a_patch_that_changes_nothing_writes_nothing_and_fires_no_event() {
    let app = spawn_app();
    let t = app.admin_token();
    let rx = crate::receiver::Receiver::ok();
    app.manage(|c| switchboard::manage::webhooks::add(c, "default", &rx.url, &["*".into()], None));
    let created = app.post("/api/v1/leads", &t, &json!({"name": "A", "status": "won"}));
    let path = created.header("location").unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(5));
    for body in [
        json!({}),
        json!({"name": "A"}),
        json!({"status": "won", "email": null}),
    ] {
        let r = app.patch(&path, &t, &body);
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        assert_eq!(r.text, created.text, "{body}: the record as it was");
    }
    let updated = |app: &TestApp| -> i64 {
        app.query(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM webhook_events WHERE type = 'lead.updated'",
                [],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(updated(&app), 0);
    let changed = app.patch(&path, &t, &json!({"name": "B"}));
    assert_ne!(changed.json()["updated_at"], created.json()["updated_at"]);
    assert_eq!(updated(&app), 1);
}

#[test]
fn bad_bodies_get_the_contract_errors_and_change_nothing() {
    let app = spawn_app();
    let t = app.admin_token();
    let auth = format!("Bearer {t}");
    let json_ct = ("content-type", "application/json");
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70_000));
    // (extra headers, body, status, code, why)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![],
            br#"{"name":"a"}"#.to_vec(),
            415,
            "unsupported_media_type",
            "no content type",
        ),
        (
            vec![("content-type", "text/plain")],
            br#"{"name":"a"}"#.to_vec(),
            415,
            "unsupported_media_type",
            "text",
        ),
        (
            vec![json_ct],
            big.into_bytes(),
            413,
            "payload_too_large",
            "over 64 KiB",
        ),
        (
            vec![json_ct],
            b"{not json".to_vec(),
            400,
            "invalid_json",
            "syntax",
        ),
        (vec![json_ct], b"".to_vec(), 400, "invalid_json", "empty"),
        (
            vec![("content-type", "application/json; charset=utf-8")],
            br#"{"nme":"a"}"#.to_vec(),
            422,
            "validation_failed",
            "unknown field",
        ),
        (
            vec![json_ct],
            br#"{"name":"a","id":9}"#.to_vec(),
            422,
            "validation_failed",
            "server-owned id",
        ),
        (
            vec![json_ct],
            br#"{"name":"a","owner_id":9}"#.to_vec(),
            422,
            "validation_failed",
            "owner_id",
        ),
        (
            vec![json_ct],
            br#"{"name":"a","created_at":"2020-01-01T00:00:00Z"}"#.to_vec(),
            422,
            "validation_failed",
            "timestamp",
        ),
        (
            vec![json_ct],
            br#"{"name":"a","status":"maybe"}"#.to_vec(),
            422,
            "validation_failed",
            "bad enum",
        ),
        (
            vec![json_ct],
            b"[]".to_vec(),
            422,
            "validation_failed",
            "not an object",
        ),
    ];
    for (extra, body, status, code, why) in cases {
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend(extra);
        let r = app.send("POST", "/api/v1/leads", &headers, Some(&body));
        assert_eq!(
            (r.status, r.code()),
            (status, code.to_owned()),
            "{why}: {}",
            r.text
        );
        if status == 422 {
            assert!(!r.json()["errors"].as_array().unwrap().is_empty(), "{why}");
        }
    }
    let count =
        app.query(|c| c.query_row("SELECT COUNT(*) FROM leads", [], |r| r.get::<_, i64>(0)));
    assert_eq!(count, 0);
}

#[test]
fn path_ids_that_are_not_positive_integers_are_not_found() {
    let app = spawn_app();
    let t = app.admin_token();
    for id in ["0", "-1", "abc", "1.5", "99999999999999999999", "%20"] {
        let r = app.get(&format!("/api/v1/leads/{id}"), &t);
        assert_eq!(r.code(), "not_found", "{id}");
        // Refused before the guard ran: not charged to the token's limits.
        assert_eq!(r.header("ratelimit"), None, "{id}");
    }
}

#[test]
fn head_answers_what_get_would_without_the_body() {
    let app = spawn_app();
    let t = app.admin_token();
    let created = app.post("/api/v1/leads", &t, &json!({"name": "Ada"}));
    let path = created.header("location").unwrap().to_owned();
    let auth = format!("Bearer {t}");
    for p in [path.as_str(), "/api/v1/leads", "/api/v1/me"] {
        let get = app.send("GET", p, &[("authorization", &auth)], None);
        let head = app.send("HEAD", p, &[("authorization", &auth)], None);
        assert_eq!((head.status, head.text.as_str()), (200, ""), "{p}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{p}"
        );
        assert!(
            head.header("ratelimit").is_some(),
            "{p}: a call like any other"
        );
    }
    let gone = app.send(
        "HEAD",
        "/api/v1/leads/999999",
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(gone.status, 404);
    assert_eq!(app.send("HEAD", &path, &[], None).status, 401);
}
