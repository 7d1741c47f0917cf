//! The auth path: credentials, token states, the account gate, scopes, propagation.

use std::time::Duration;

use serde_json::json;
use switchboard::manage;
use switchboard::manage::accounts::AccountChanges;
use switchboard::manage::users::UserChanges;
use switchboard::model::{Plan, Role, SubscriptionStatus};

use crate::helpers::{ALL_SCOPES, eventually, spawn_app};

const VECTOR: &str = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";

#[test]
fn a_call_without_credentials_is_told_how_to_authenticate() {
    let app = spawn_app();
    for headers in [vec![], vec![("authorization", "Basic dXNlcjpwYXNz")]] {
        let r = app.send("GET", "/api/v1/leads", &headers, None);
        assert_eq!(r.status, 401);
        assert_eq!(r.code(), "missing_token");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="switchboard""#)
        );
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.header("ratelimit").is_none(),
            "401 stops before the limiter"
        );
    }
}

#[test]
fn bad_tokens_are_invalid_tokens() {
    let app = spawn_app();
    let good = app.admin_token();
    // The last character changed: one time in 62 it was already an `x`.
    let other = if good.ends_with('x') { 'y' } else { 'x' };
    let cases = [
        ("Bearer ", "empty bearer"),
        ("Bearer not-a-token", "malformed"),
        (&*format!("Bearer {VECTOR}"), "well-formed but unknown"),
        (
            &*format!("Bearer {}{other}", &good[..good.len() - 1]),
            "bad checksum",
        ),
    ];
    for (header, why) in cases {
        let r = app.send("GET", "/api/v1/leads", &[("authorization", header)], None);
        assert_eq!(r.status, 401, "{why}");
        assert_eq!(r.code(), "invalid_token", "{why}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#),
            "{why}"
        );
    }
}

#[test]
fn a_token_works_as_bearer_or_x_api_key_but_not_as_two_different_ones() {
    let app = spawn_app();
    let t = app.admin_token();
    let other = app.admin_token();
    let lower = format!("bearer {t}");
    assert_eq!(
        app.send("GET", "/api/v1/leads", &[("authorization", &lower)], None)
            .status,
        200
    );
    assert_eq!(
        app.send("GET", "/api/v1/leads", &[("x-api-key", &t)], None)
            .status,
        200
    );
    let both = app.send(
        "GET",
        "/api/v1/leads",
        &[
            ("authorization", &format!("Bearer {t}")),
            ("x-api-key", &other),
        ],
        None,
    );
    assert_eq!(both.code(), "invalid_token");
}

#[test]
fn a_token_in_the_url_is_not_accepted() {
    let app = spawn_app();
    let t = app.admin_token();
    let r = app.send(
        "GET",
        &format!("/api/v1/leads?access_token={t}&api_key={t}"),
        &[],
        None,
    );
    assert_eq!(r.code(), "missing_token");
}

#[test]
fn unknown_paths_and_methods_are_answered_before_authentication() {
    let app = spawn_app();
    let cases = [
        ("GET", "/api/v1/widgets", 404, "not_found"),
        ("GET", "/api/v1/leads/1/extra", 404, "not_found"),
        ("GET", "/nowhere", 404, "not_found"),
        ("PUT", "/api/v1/leads", 405, "method_not_allowed"),
        ("PUT", "/api/v1/leads/1", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/widgets", 404, "not_found"),
    ];
    for (method, path, status, code) in cases {
        let r = app.send(method, path, &[], None);
        assert_eq!(
            (r.status, r.code()),
            (status, code.to_owned()),
            "{method} {path}"
        );
    }
}

#[test]
fn a_missing_scope_is_named_in_the_challenge() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &["leads:read"]);
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    let r = app.post("/api/v1/leads", &t, &json!({"name": "x"}));
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "insufficient_scope");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="switchboard", error="insufficient_scope", scope="leads:write""#)
    );
    assert_eq!(app.get("/api/v1/jobs", &t).code(), "insufficient_scope");
}

#[test]
fn me_describes_the_token_without_needing_a_scope() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Agent);
    let t = app.token_for("a@example.com", &["jobs:read"]);
    let r = app.get("/api/v1/me", &t);
    assert_eq!(r.status, 200, "{}", r.text);
    let me = r.json();
    assert_eq!(me["prefix"], t[3..11]);
    assert_eq!(me["user"]["email"], "a@example.com");
    assert_eq!(me["user"]["role"], "agent");
    assert_eq!(me["account"]["name"], "default");
    assert_eq!(me["scopes"], json!(["jobs:read"]));
    assert_eq!(
        me["limits"][0]["limit"], "100000/1s",
        "the server's defaults, as configured"
    );
    assert_eq!(me["default_limits"], true);
    assert!(me["expires_at"].is_null());
}

#[test]
fn user_permissions_narrow_tokens_at_call_time() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &["leads:read", "jobs:read"]);
    assert_eq!(app.get("/api/v1/jobs", &t).status, 200);
    let changes = UserChanges {
        permissions: Some(vec!["leads:read".into()]),
        ..UserChanges::default()
    };
    app.manage(|c| manage::users::update(c, "a@example.com", changes));
    assert!(eventually(Duration::from_secs(3), || app
        .get("/api/v1/jobs", &t)
        .status
        == 403));
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    assert_eq!(
        app.get("/api/v1/me", &t).json()["scopes"],
        json!(["leads:read"])
    );
}

#[test]
fn a_token_cannot_be_minted_beyond_its_users_permissions() {
    let app = spawn_app();
    let input = manage::users::UserInput {
        email: "narrow@example.com".into(),
        name: None,
        role: Role::Agent,
        account: "default".into(),
        permissions: Some(vec!["leads:read".into()]),
        password: None,
    };
    app.manage(|c| manage::users::add(c, input));
    let mut conn = switchboard::store::open_connection(&app.db_path).unwrap();
    let refused = switchboard::store::with_management_tx(&mut conn, |c| {
        manage::tokens::create(
            c,
            manage::tokens::TokenInput {
                user_email: "narrow@example.com".into(),
                name: "too wide".into(),
                scopes: vec!["leads:write".into()],
                expiry: manage::tokens::Expiry::Never,
                allow_ips: vec![],
                limits: None,
            },
        )
    });
    let err = refused.err().expect("refused").to_string();
    assert!(err.contains("leads:write"), "{err}");
}

#[test]
fn a_disabled_users_tokens_stop_working_and_start_again_when_enabled() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &ALL_SCOPES);
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    let disable = UserChanges {
        disabled: Some(true),
        ..UserChanges::default()
    };
    app.manage(|c| manage::users::update(c, "a@example.com", disable));
    assert!(eventually(Duration::from_secs(3), || app
        .get("/api/v1/leads", &t)
        .code()
        == "invalid_token"));
    let enable = UserChanges {
        disabled: Some(false),
        ..UserChanges::default()
    };
    app.manage(|c| manage::users::update(c, "a@example.com", enable));
    assert!(eventually(Duration::from_secs(3), || app
        .get("/api/v1/leads", &t)
        .status
        == 200));
}

#[test]
fn the_account_gate_answers_402_on_the_next_call_after_a_downgrade() {
    let app = spawn_app();
    let t = app.admin_token();
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    let cases = [
        (
            Plan::Starter,
            SubscriptionStatus::Active,
            "plan_upgrade_required",
        ),
        (
            Plan::Pro,
            SubscriptionStatus::PastDue,
            "subscription_inactive",
        ),
        (
            Plan::Pro,
            SubscriptionStatus::Canceled,
            "subscription_inactive",
        ),
    ];
    for (plan, status, code) in cases {
        let changes = AccountChanges {
            plan: Some(plan),
            status: Some(status),
            ..AccountChanges::default()
        };
        app.manage(|c| manage::accounts::update(c, "default", changes));
        assert!(
            eventually(Duration::from_secs(3), || app
                .get("/api/v1/leads", &t)
                .code()
                == code),
            "{plan} {status}"
        );
        let r = app.get("/api/v1/leads", &t);
        assert_eq!(r.status, 402);
        assert!(r.header("ratelimit").is_none());
    }
    let trial = AccountChanges {
        plan: Some(Plan::Free),
        status: Some(SubscriptionStatus::Trialing),
        ..AccountChanges::default()
    };
    app.manage(|c| manage::accounts::update(c, "default", trial));
    assert!(
        eventually(Duration::from_secs(3), || app
            .get("/api/v1/leads", &t)
            .status
            == 200),
        "trials have api_access"
    );
}

#[test]
fn a_revoked_token_is_refused_within_a_second_even_when_cached() {
    let app = spawn_app();
    let t = app.admin_token();
    assert_eq!(app.get("/api/v1/leads", &t).status, 200, "now cached");
    app.manage(|c| manage::tokens::revoke(c, &t[3..11], "manual"));
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &t)
        .code()
        == "invalid_token"));
}

#[test]
fn a_token_created_after_a_failed_lookup_of_it_is_not_stuck_in_the_negative_cache() {
    // The negative cache is dropped on every change, so a new token works at once.
    let app = spawn_app();
    assert_eq!(app.get("/api/v1/leads", VECTOR).code(), "invalid_token");
    let t = app.admin_token();
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &t)
        .status
        == 200));
}
