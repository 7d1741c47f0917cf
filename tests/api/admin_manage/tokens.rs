//! Tokens made, rotated, edited and revoked on the admin API, and bad token requests.

use serde_json::json;

use crate::admin::admin;
use crate::helpers::{TestApp, spawn_app};

/// The status of a GET sent on a new connection, closed after it.
fn get_alone(app: &TestApp, path: &str, token: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    app.raw(request.as_bytes()).0
}

#[test]
fn a_token_made_on_the_admin_api_works_and_dies_on_the_next_call_after_revoke() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/tokens",
        &json!({"name": "zapier", "scopes": ["leads:read"], "expires_in": "30d"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("sb_{}_", created["prefix"].as_str().unwrap())));
    assert_eq!(created["user"], "boss@example.com");
    assert_eq!(created["scopes"], json!(["leads:read"]));
    // Used often enough that each of the test server's two workers has it at hand, in the
    // shared cache and in its own look-aside: each call on a connection of its own, which
    // the workers take in turn.
    for _ in 0..6 {
        assert_eq!(get_alone(&app, "/api/v1/leads", &token), 200);
    }

    let listed = b.get("/admin/api/tokens").json();
    assert_eq!(listed[0]["prefix"], created["prefix"]);
    assert!(
        listed[0].get("token").is_none(),
        "the plaintext is shown once"
    );
    assert!(!b.get("/admin/api/tokens").text.contains(&token));

    let id = created["id"].as_i64().unwrap();
    let r = b.post(&format!("/admin/api/tokens/{id}/revoke"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "revoked");
    for call in ["the very next call", "and the next, on the other worker"] {
        assert_eq!(get_alone(&app, "/api/v1/leads", &token), 401, "{call}");
    }
    let again = b.post(&format!("/admin/api/tokens/{id}/revoke"), &json!({}));
    assert_eq!(again.status, 409);
}

#[test]
fn rotating_replaces_the_token_with_or_without_grace() {
    let app = spawn_app();
    let b = admin(&app);
    let old = app.token_for("boss@example.com", &["leads:read"]);
    let id = b.get("/admin/api/tokens").json()[0]["id"].as_i64().unwrap();
    let r = b.post(
        &format!("/admin/api/tokens/{id}/rotate"),
        &json!({"grace": "1h"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let new = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/leads", &new).status, 200);
    assert_eq!(
        app.get("/api/v1/leads", &old).status,
        200,
        "within the grace"
    );

    let new_id = r.json()["id"].as_i64().unwrap();
    let r = b.post(&format!("/admin/api/tokens/{new_id}/rotate"), &json!({}));
    let newest = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/leads", &new).status,
        401,
        "no grace: dead at once"
    );
    assert_eq!(app.get("/api/v1/leads", &newest).status, 200);
    let bad = b.post(
        &format!("/admin/api/tokens/{new_id}/rotate"),
        &json!({"grace": "soon"}),
    );
    assert!(matches!(bad.status, 409 | 422), "{}", bad.text);
}

#[test]
fn an_edited_token_starts_with_whole_windows() {
    let app = spawn_app();
    let b = admin(&app);
    let token = app.token_for("boss@example.com", &["leads:read"]);
    let id = b.get("/admin/api/tokens").json()[0]["id"].as_i64().unwrap();
    let path = format!("/admin/api/tokens/{id}");
    assert_eq!(b.patch(&path, &json!({"limits": ["3/1m"]})).status, 200);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/leads", &token).status, 200);
    }
    assert_eq!(app.get("/api/v1/leads", &token).status, 429);
    // An edit starts the windows whole, for the cached token (which holds them) too.
    assert_eq!(b.patch(&path, &json!({"name": "renamed"})).status, 200);
    let r = app.get("/api/v1/leads", &token);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("ratelimit").unwrap().contains("r=2"),
        "{:?}",
        r.header("ratelimit")
    );
}

#[test]
fn editing_a_token_applies_on_the_next_call() {
    let app = spawn_app();
    let b = admin(&app);
    let token = app.token_for("boss@example.com", &["leads:read"]);
    let id = b.get("/admin/api/tokens").json()[0]["id"].as_i64().unwrap();
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);
    let r = b.patch(
        &format!("/admin/api/tokens/{id}"),
        &json!({"allow_ips": ["203.0.113.0/24"], "name": "office", "limits": ["5/1s"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["name"], "office");
    assert_eq!(r.json()["limits"], json!(["5/1s"]));
    assert_eq!(app.get("/api/v1/leads", &token).code(), "ip_not_allowed");

    let r = b.patch(
        &format!("/admin/api/tokens/{id}"),
        &json!({"allow_ips": [], "limits": null, "expires_at": null}),
    );
    assert_eq!(r.json()["default_limits"], true);
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);

    let cases = [
        (json!({"allow_ips": ["not-an-ip"]}), "bad CIDR"),
        (json!({"limits": ["5/2s"]}), "unknown window"),
        (json!({"expires_at": "yesterday"}), "not RFC 3339"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "in the past"),
        (json!({"name": ""}), "empty name"),
        (json!({"colour": "red"}), "unknown field"),
    ];
    for (body, why) in cases {
        let r = b.patch(&format!("/admin/api/tokens/{id}"), &body);
        assert_eq!(r.status, 422, "{why}: {}", r.text);
    }
    assert_eq!(
        b.get(&format!("/admin/api/tokens/{id}")).json()["name"],
        "office"
    );
}

#[test]
fn bad_token_requests_are_refused_with_the_reason() {
    let app = spawn_app();
    let b = admin(&app);
    let cases = [
        (json!({"name": "x", "scopes": []}), "scopes", "no scope"),
        (
            json!({"name": "x", "scopes": ["leads:admin"]}),
            "scopes",
            "unknown scope",
        ),
        (json!({"scopes": ["leads:read"]}), "name", "no name"),
        (
            json!({"name": "x", "scopes": ["leads:read"], "expires_in": "3 weeks"}),
            "expires_in",
            "bad duration",
        ),
        (
            json!({"name": "x", "scopes": ["leads:read"], "user_id": 999}),
            "",
            "unknown user",
        ),
    ];
    for (body, field, why) in cases {
        let r = b.post("/admin/api/tokens", &body);
        if field.is_empty() {
            assert_eq!(r.status, 404, "{why}: {}", r.text);
        } else {
            assert_eq!(r.status, 422, "{why}: {}", r.text);
            assert_eq!(r.json()["errors"][0]["field"], field, "{why}");
        }
    }
    assert_eq!(
        b.get("/admin/api/tokens").json(),
        json!([]),
        "nothing was created"
    );
}
