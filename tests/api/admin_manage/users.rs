//! Users: what an agent reaches, managing users and their permissions, and the last admin.

use serde_json::json;
use switchboard::model::Role;

use crate::admin::{add_person, admin, sign_in};
use crate::helpers::{ALL_SCOPES, spawn_app};

#[test]
fn an_agent_signs_in_but_reaches_only_their_own_tokens() {
    let app = spawn_app();
    let b = admin(&app);
    add_person(&app, "agent@example.com", Role::Agent);
    let boss_token = app.token_for("boss@example.com", &["leads:read"]);
    let boss_id = b.get("/admin/api/tokens").json()[0]["id"].as_i64().unwrap();
    let a = sign_in(&app, "agent@example.com");

    for (method, path) in [
        ("GET", "/admin/api/users"),
        ("POST", "/admin/api/users"),
        ("PATCH", "/admin/api/users/1"),
        ("GET", "/admin/api/account"),
        ("PATCH", "/admin/api/account"),
        ("GET", "/admin/api/audit"),
        ("GET", "/admin/api/webhooks"),
        ("POST", "/admin/api/webhooks"),
        ("GET", "/admin/api/webhooks/events"),
        ("DELETE", "/admin/api/webhooks/1"),
    ] {
        let r = a.call(method, path, Some(&json!({})));
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert_eq!(r.code(), "forbidden");
    }
    assert_eq!(
        a.get("/admin/api/tokens").json(),
        json!([]),
        "not the boss's"
    );
    assert_eq!(a.get(&format!("/admin/api/tokens/{boss_id}")).status, 404);
    let r = a.post(&format!("/admin/api/tokens/{boss_id}/revoke"), &json!({}));
    assert_eq!(r.status, 404);
    assert_eq!(
        app.get("/api/v1/leads", &boss_token).status,
        200,
        "untouched"
    );

    let boss_user = b.get("/admin/api/me").json()["user_id"].clone();
    let r = a.post(
        "/admin/api/tokens",
        &json!({"name": "mine", "scopes": ["leads:read"], "user_id": boss_user}),
    );
    assert_eq!(r.status, 403);
    let r = a.post(
        "/admin/api/tokens",
        &json!({"name": "mine", "scopes": ["leads:read"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["user"], "agent@example.com");
    assert_eq!(
        a.get("/admin/api/tokens").json().as_array().unwrap().len(),
        1
    );
    let mine = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        a.get(&format!("/admin/api/tokens/{mine}/usage")).status,
        200
    );
    assert_eq!(
        b.get("/admin/api/tokens").json().as_array().unwrap().len(),
        2,
        "the admin sees all"
    );
}

#[test]
fn users_are_managed_and_a_disabled_users_tokens_stop_at_once() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/users",
        &json!({"email": "sam@example.com", "permissions": ["leads:read", "leads:write"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["role"], "agent", "least privilege by default");
    let sam = r.json()["id"].as_i64().unwrap();
    let token = b.post(
        "/admin/api/tokens",
        &json!({"name": "sam's", "scopes": ["leads:read"], "user_id": sam}),
    );
    let token = token.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);
    let beyond = b.post(
        "/admin/api/tokens",
        &json!({"name": "x", "scopes": ["jobs:read"], "user_id": sam}),
    );
    assert_eq!(beyond.status, 422, "beyond the user's permissions");

    let r = b.patch(
        &format!("/admin/api/users/{sam}"),
        &json!({"permissions": ["jobs:read"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/leads", &token).status,
        403,
        "permission gone on the next call"
    );
    b.patch(
        &format!("/admin/api/users/{sam}"),
        &json!({"permissions": ALL_SCOPES}),
    );
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);
    let r = b.patch(
        &format!("/admin/api/users/{sam}"),
        &json!({"disabled": true}),
    );
    assert_eq!(r.json()["disabled"], true);
    assert_eq!(
        app.get("/api/v1/leads", &token).status,
        401,
        "disabled on the next call"
    );

    let dup = b.post("/admin/api/users", &json!({"email": "SAM@example.com"}));
    assert_eq!(dup.status, 409);
    let weak = b.post(
        "/admin/api/users",
        &json!({"email": "new@example.com", "password": "short"}),
    );
    assert_eq!(weak.status, 422);
    assert_eq!(
        b.post("/admin/api/users", &json!({"email": "nope"})).status,
        422
    );
    let bad_role = b.post(
        "/admin/api/users",
        &json!({"email": "r@example.com", "role": "owner"}),
    );
    assert_eq!(bad_role.json()["errors"][0]["field"], "role");
}

#[test]
fn the_last_admin_cannot_lock_the_account_out() {
    let app = spawn_app();
    let b = admin(&app);
    let me = b.get("/admin/api/me").json()["user_id"].as_i64().unwrap();
    for body in [json!({"role": "agent"}), json!({"disabled": true})] {
        let r = b.patch(&format!("/admin/api/users/{me}"), &body);
        assert_eq!(r.status, 422, "{}", r.text);
    }
    add_person(&app, "second@example.com", Role::Admin);
    let r = b.patch(&format!("/admin/api/users/{me}"), &json!({"role": "agent"}));
    assert_eq!(r.status, 200, "another admin remains");
    assert_eq!(
        b.get("/admin/api/users").code(),
        "forbidden",
        "the demotion applies at once"
    );
}
