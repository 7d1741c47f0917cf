//! IP allow-lists per token and per account, and who the caller is behind a proxy.

use std::time::Duration;

use switchboard::manage::accounts::AccountChanges;
use switchboard::model::Role;

use crate::helpers::{ALL_SCOPES, eventually, spawn_app, spawn_app_with};

#[test]
fn a_token_allow_list_refuses_other_addresses_and_names_the_caller() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let inside = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.allow_ips = vec!["127.0.0.0/8".into()]
    });
    let outside = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.allow_ips = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]
    });
    assert_eq!(app.get("/api/v1/leads", &inside).status, 200);
    let r = app.get("/api/v1/leads", &outside);
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "ip_not_allowed");
    assert!(r.json()["detail"].as_str().unwrap().contains("127.0.0.1"));
    assert!(
        r.header("ratelimit").is_none(),
        "refused before the limiter"
    );
}

#[test]
fn the_account_allow_list_applies_to_every_token_of_the_account() {
    let app = spawn_app();
    let t = app.admin_token();
    let changes = AccountChanges {
        allow_ips: Some(vec!["192.0.2.0/24".into()]),
        ..AccountChanges::default()
    };
    app.manage(|c| switchboard::manage::accounts::update(c, "default", changes));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &t)
        .code()
        == "ip_not_allowed"));
    let cleared = AccountChanges {
        allow_ips: Some(vec![]),
        ..AccountChanges::default()
    };
    app.manage(|c| switchboard::manage::accounts::update(c, "default", cleared));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &t)
        .status
        == 200));
}

#[test]
fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.allow_ips = vec!["203.0.113.7".into()]
    });
    let auth = format!("Bearer {t}");
    let r = app.send(
        "GET",
        "/api/v1/leads",
        &[("authorization", &auth), ("x-forwarded-for", "203.0.113.7")],
        None,
    );
    assert_eq!(r.code(), "ip_not_allowed", "a spoofed header does not help");
}

#[test]
fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_caller() {
    let app = spawn_app_with(|s| s.trusted_proxy = vec!["127.0.0.1/32".parse().unwrap()]);
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.allow_ips = vec!["203.0.113.7".into()]
    });
    let auth = format!("Bearer {t}");
    let via = |xff: &str| {
        app.send(
            "GET",
            "/api/v1/leads",
            &[("authorization", &auth), ("x-forwarded-for", xff)],
            None,
        )
    };
    assert_eq!(via("203.0.113.7").status, 200);
    assert_eq!(
        via("198.51.100.1, 203.0.113.7").status,
        200,
        "the client may prepend anything"
    );
    assert_eq!(via("203.0.113.7, 198.51.100.1").code(), "ip_not_allowed");
    assert_eq!(
        app.get("/api/v1/me", &t).code(),
        "ip_not_allowed",
        "no header: the proxy itself"
    );
}
