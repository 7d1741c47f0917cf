//! `Idempotency-Key` on POSTs: a retry returns the first answer and changes nothing.

use serde_json::{Value, json};

use switchboard::model::Role;

use crate::helpers::{Reply, TestApp, spawn_app};

fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    post_keyed_raw(app, path, token, key, &body.to_string())
}

/// `post_keyed` with the body's exact bytes.
fn post_keyed_raw(app: &TestApp, path: &str, token: &str, key: &str, body: &str) -> Reply {
    let auth = format!("Bearer {token}");
    app.send(
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.as_bytes()),
    )
}

fn count(app: &TestApp, table: &str) -> i64 {
    app.query(|c| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)))
}

#[test]
fn a_retry_with_the_same_key_returns_the_first_answer_and_creates_nothing() {
    let app = spawn_app();
    let t = app.admin_token();
    let rx = crate::receiver::Receiver::ok();
    app.manage(|c| switchboard::manage::webhooks::add(c, "default", &rx.url, &["*".into()], None));
    let body = json!({"name": "Once"});
    let first = post_keyed(&app, "/api/v1/leads", &t, "order-7781", &body);
    assert_eq!(first.status, 201, "{}", first.text);
    // Bare and quoted forms name the same key.
    let again = post_keyed(&app, "/api/v1/leads", &t, "\"order-7781\"", &body);
    assert_eq!(again.status, 201);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(count(&app, "leads"), 1);
    assert_eq!(count(&app, "webhook_events"), 1, "no second webhook");
}

/// The key's body is compared as parsed: a retry whose client spaced or ordered the same
/// JSON differently is the same request (a single create hashes its raw body, a batch its
/// parsed one).
#[test]
fn a_retry_of_the_same_json_written_differently_is_replayed() {
    let app = spawn_app();
    let t = app.admin_token();
    for (path, first, again) in [
        (
            "/api/v1/leads",
            r#"{"name":"Ada","email":"ada@example.com"}"#,
            "{ \"email\" : \"ada@example.com\",\n  \"name\": \"Ada\" }",
        ),
        (
            "/api/v1/leads/batch",
            r#"{"records":[{"name":"B","source":"web"}]}"#,
            "{\"records\": [ {\"source\":\"web\", \"name\":\"B\"} ]}",
        ),
    ] {
        let a = post_keyed_raw(&app, path, &t, path, first);
        assert_eq!(a.status, 201, "{path}: {}", a.text);
        let b = post_keyed_raw(&app, path, &t, path, again);
        assert_eq!(b.status, 201, "{path}: {}", b.text);
        assert_eq!(b.header("idempotent-replayed"), Some("true"), "{path}");
        assert_eq!(b.text, a.text, "{path}");
    }
    assert_eq!(count(&app, "leads"), 2);
}

#[test]
fn the_same_key_with_another_body_or_path_is_refused() {
    let app = spawn_app();
    let t = app.admin_token();
    let first = post_keyed(&app, "/api/v1/leads", &t, "k1", &json!({"name": "A"}));
    assert_eq!(first.status, 201);
    let other = post_keyed(&app, "/api/v1/leads", &t, "k1", &json!({"name": "B"}));
    assert_eq!(other.status, 422);
    assert_eq!(other.code(), "idempotency_key_reused");
    // Like every 422, it names the field.
    assert_eq!(other.json()["errors"][0]["field"], "Idempotency-Key");
    let other_path = post_keyed(&app, "/api/v1/jobs", &t, "k1", &json!({"title": "A"}));
    assert_eq!(other_path.code(), "idempotency_key_reused");
    assert_eq!(count(&app, "leads"), 1);
    assert_eq!(count(&app, "jobs"), 0);
}

#[test]
fn a_failed_request_stores_nothing_and_may_be_retried_with_its_key() {
    let app = spawn_app();
    let t = app.admin_token();
    let bad = post_keyed(&app, "/api/v1/leads", &t, "k2", &json!({"name": ""}));
    assert_eq!(bad.status, 422);
    let bad_ref = post_keyed(
        &app,
        "/api/v1/jobs",
        &t,
        "k3",
        &json!({"title": "x", "lead_id": 999}),
    );
    assert_eq!(bad_ref.status, 422, "{}", bad_ref.text);
    assert_eq!(count(&app, "idempotency_keys"), 0);
    let good = post_keyed(&app, "/api/v1/leads", &t, "k2", &json!({"name": "Fixed"}));
    assert_eq!(good.status, 201);
}

#[test]
fn concurrent_requests_with_one_key_create_one_record() {
    let app = spawn_app();
    let t = app.admin_token();
    let body =
        json!({"records": (0..200).map(|i| json!({"name": format!("L{i}")})).collect::<Vec<_>>()});
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_keyed(&app, "/api/v1/leads/batch", &t, "import-1", &body)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|r| r.text == created[0].text));
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            (r.status, r.code()),
            (409, "idempotency_key_in_flight".into())
        );
    }
    assert_eq!(count(&app, "leads"), 200, "one batch, however many tries");
}

#[test]
fn keys_are_scoped_to_the_account() {
    let app = spawn_app();
    app.add_account_with_admin("other", "boss@other.example");
    let mine = app.admin_token();
    let theirs = app.token_for("boss@other.example", &["leads:write"]);
    let body = json!({"name": "Same"});
    let a = post_keyed(&app, "/api/v1/leads", &mine, "shared", &body);
    let b = post_keyed(&app, "/api/v1/leads", &theirs, "shared", &body);
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.json()["id"], b.json()["id"]);
    assert_eq!(b.header("idempotent-replayed"), None);
}

#[test]
fn a_key_is_replayed_only_to_the_user_whose_request_stored_it() {
    let app = spawn_app();
    app.add_user("ann@example.com", Role::Agent);
    app.add_user("bob@example.com", Role::Agent);
    let ann = app.token_for("ann@example.com", &["leads:read", "leads:write"]);
    let ann_again = app.token_for("ann@example.com", &["leads:read", "leads:write"]);
    let bob = app.token_for("bob@example.com", &["leads:read", "leads:write"]);
    let body = json!({"name": "Private customer", "email": "vip@example.com"});
    let first = post_keyed(&app, "/api/v1/leads", &ann, "import-7", &body);
    assert_eq!(first.status, 201, "{}", first.text);
    // Another token of the same user gets the answer again.
    let same_user = post_keyed(&app, "/api/v1/leads", &ann_again, "import-7", &body);
    assert_eq!(same_user.header("idempotent-replayed"), Some("true"));
    assert_eq!(same_user.text, first.text);
    // Another user of the account sends the same key and body: it is not their request, and
    // the answer holds a record their token cannot read.
    let other_user = post_keyed(&app, "/api/v1/leads", &bob, "import-7", &body);
    assert_eq!(
        (other_user.status, other_user.code()),
        (422, "idempotency_key_reused".into()),
        "{}",
        other_user.text
    );
    assert!(!other_user.text.contains("vip@example.com"));
    assert_eq!(count(&app, "leads"), 1);
    assert_eq!(app.get("/api/v1/leads", &bob).json()["data"], json!([]));

    // An answer stored before the user was kept (migration V15) is replayed as it was.
    app.query(|c| c.execute("UPDATE idempotency_keys SET user_id = NULL", []));
    let legacy = post_keyed(&app, "/api/v1/leads", &ann, "import-7", &body);
    assert_eq!(legacy.header("idempotent-replayed"), Some("true"));
}

#[test]
fn malformed_keys_are_refused_with_a_reason() {
    let app = spawn_app();
    let t = app.admin_token();
    let long = "k".repeat(256);
    let cases = [
        ("\"\"", "an empty quoted key"),
        ("\"open", "an unterminated quote"),
        (long.as_str(), "a key over 255 characters"),
    ];
    for (key, why) in cases {
        let r = post_keyed(&app, "/api/v1/leads", &t, key, &json!({"name": "X"}));
        assert_eq!(r.status, 422, "{why}: {}", r.text);
        assert_eq!(r.json()["errors"][0]["field"], "Idempotency-Key", "{why}");
    }
    assert_eq!(count(&app, "leads"), 0);
    let max = "k".repeat(255);
    let r = post_keyed(&app, "/api/v1/leads", &t, &max, &json!({"name": "X"}));
    assert_eq!(r.status, 201, "255 characters are allowed");
}
