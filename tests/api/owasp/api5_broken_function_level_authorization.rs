//! API5: API tokens never reach the admin API, and agents reach only their own tokens there.

use serde_json::json;
use switchboard::model::Role;

use crate::admin::{add_person, sign_in};
use crate::helpers::spawn_app;

const ADMIN_ROUTES: [(&str, &str); 8] = [
    ("GET", "/admin/api/tokens"),
    ("GET", "/admin/api/users"),
    ("POST", "/admin/api/users"),
    ("GET", "/admin/api/account"),
    ("PATCH", "/admin/api/account"),
    ("GET", "/admin/api/audit"),
    ("GET", "/admin/api/webhooks"),
    ("GET", "/admin/api/deliveries"),
];

#[test]
fn an_api_token_of_any_scope_never_reaches_the_admin_api() {
    let app = spawn_app();
    let token = app.admin_token();
    let bearer = format!("Bearer {token}");
    for (method, path) in ADMIN_ROUTES {
        for header in [
            ("authorization", bearer.as_str()),
            ("x-api-key", token.as_str()),
        ] {
            let r = app.send(
                method,
                path,
                &[header, ("content-type", "application/json")],
                Some(b"{}"),
            );
            assert_eq!(r.status, 401, "{method} {path} with {}", header.0);
            assert_eq!(r.code(), "login_required");
        }
    }
}

#[test]
fn an_agent_signed_in_reaches_only_their_own_tokens() {
    let app = spawn_app();
    add_person(&app, "boss@example.com", Role::Admin);
    add_person(&app, "agent@example.com", Role::Agent);
    let agent = sign_in(&app, "agent@example.com");
    for (method, path) in ADMIN_ROUTES
        .iter()
        .filter(|(_, p)| *p != "/admin/api/tokens")
    {
        let r = agent.call(method, path, Some(&json!({})));
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert_eq!(r.code(), "forbidden");
    }
    let boss_token = app.token_for("boss@example.com", &["leads:read"]);
    let own = agent.post(
        "/admin/api/tokens",
        &json!({"name": "mine", "scopes": ["leads:read"]}),
    );
    assert_eq!(own.status, 201, "{}", own.text);
    let listed = agent.get("/admin/api/tokens").json();
    let prefixes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(
        prefixes,
        [own.json()["prefix"].as_str().unwrap()],
        "only their own"
    );
    assert!(!prefixes.contains(&&boss_token[3..11]));
    let boss_user = app.query(|c| {
        c.query_row(
            "SELECT id FROM users WHERE email = 'boss@example.com'",
            [],
            |r| r.get::<_, i64>(0),
        )
    });
    let for_boss = agent.post(
        "/admin/api/tokens",
        &json!({"name": "x", "scopes": ["leads:read"], "user_id": boss_user}),
    );
    assert!(
        matches!(for_boss.status, 403 | 404),
        "an agent cannot mint for someone else: {}",
        for_boss.text
    );
}
