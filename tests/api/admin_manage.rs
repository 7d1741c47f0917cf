//! The admin API's management routes: their effect on `/api/v1` on the very next request,
//! agents' limits, and the rules that keep an account manageable.

use serde_json::json;
use switchboard::model::Role;

use crate::admin::{add_person, admin, sign_in};
use crate::helpers::{ALL_SCOPES, spawn_app};

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
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);

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
    assert_eq!(
        app.get("/api/v1/leads", &token).status,
        401,
        "the very next call"
    );
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

#[test]
fn the_account_allow_list_applies_on_the_next_call_and_the_plan_is_shown() {
    let app = spawn_app();
    let b = admin(&app);
    let token = app.token_for("boss@example.com", &["leads:read"]);
    let account = b.get("/admin/api/account").json();
    assert_eq!(account["plan"], "pro");
    assert_eq!(account["api_access"], true);
    assert!(
        account["api_consequence"]
            .as_str()
            .unwrap()
            .contains("work")
    );

    let r = b.patch(
        "/admin/api/account",
        &json!({"allow_ips": ["198.51.100.7"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["allow_ips"], json!(["198.51.100.7/32"]));
    assert_eq!(app.get("/api/v1/leads", &token).code(), "ip_not_allowed");
    b.patch("/admin/api/account", &json!({"allow_ips": []}));
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);

    for body in [
        json!({"allow_ips": ["10.0.0.0/33"]}),
        json!({"plan": "free"}),
    ] {
        assert_eq!(b.patch("/admin/api/account", &body).status, 422, "{body}");
    }
}

#[test]
fn usage_and_audit_read_the_account_telemetry() {
    let app = spawn_app();
    let b = admin(&app);
    app.token_for("boss@example.com", &["leads:read"]);
    let id = b.get("/admin/api/tokens").json()[0]["id"].as_i64().unwrap();
    let usage = b.get(&format!("/admin/api/tokens/{id}/usage")).json();
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "every day, zeros included");
    assert!(days[0]["day"].as_str().unwrap() < days[29]["day"].as_str().unwrap());
    assert!(usage["recent"].is_array());
    let audit = b.get("/admin/api/audit?limit=10&status=200");
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(audit.json()["data"].is_array());
    assert_eq!(b.get("/admin/api/audit?limit=0").status, 422);
    assert_eq!(b.get("/admin/api/audit?since=yesterday").status, 422);
}

/// The account's calls only, through the recorder's writes and the audit log's account
/// ranges (migration V13): not another account's, not those that named no account; whole
/// across pages, and within a time window.
#[test]
fn the_audit_shows_the_accounts_calls_only_across_pages_and_in_a_window() {
    let app = spawn_app();
    let b = admin(&app);
    app.add_account_with_admin("other", "them@example.com");
    let ours = app.token_for("boss@example.com", &["leads:read"]);
    let theirs = app.token_for("them@example.com", &["leads:read"]);
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/leads", &ours).status, 200);
        assert_eq!(app.get("/api/v1/leads", &theirs).status, 200);
        assert_eq!(app.get("/api/v1/leads", "sb_not_a_token").status, 401);
    }
    app.wait_for_flush();
    let account = app.query(|c| {
        c.query_row(
            "SELECT account_id FROM users WHERE email = 'boss@example.com'",
            [],
            |r| r.get::<_, i64>(0),
        )
    });
    let all = b.get("/admin/api/audit?limit=50").json();
    let rows = all["data"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{all}");
    assert!(
        rows.iter()
            .all(|r| r["account_id"].as_i64() == Some(account)),
        "{all}"
    );
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let mut paged = Vec::new();
    let mut next = String::new();
    loop {
        let page = b.get(&format!("/admin/api/audit?limit=2{next}")).json();
        paged.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap()),
        );
        match page["next_before_id"].as_i64() {
            Some(id) => next = format!("&before_id={id}"),
            None => break,
        }
    }
    assert_eq!(paged, ids, "pages of 2, newest first, none twice");
    // From the third newest call's instant on (RFC 3339, fixed width: compared as text).
    let since = rows[2]["at"].as_str().unwrap().to_owned();
    let windowed = b
        .get(&format!("/admin/api/audit?limit=50&since={since}"))
        .json();
    let got: Vec<i64> = windowed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = rows
        .iter()
        .filter(|r| r["at"].as_str().unwrap() >= since.as_str())
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(want.len() >= 3, "{all}");
    assert_eq!(got, want, "{windowed}");
}

/// A token's calls, through the recorder's writes and the audit log's token ranges: the
/// token filter and the usage page show that token's calls only, newest first.
#[test]
fn a_tokens_audit_shows_its_calls_only_newest_first() {
    let app = spawn_app();
    let b = admin(&app);
    let one = app.token_for("boss@example.com", &["leads:read"]);
    let two = app.token_for("boss@example.com", &["leads:read"]);
    for n in 0..6 {
        let token = if n % 3 == 0 { &two } else { &one };
        assert_eq!(
            app.get(&format!("/api/v1/leads?limit={}", n + 1), token)
                .status,
            200
        );
    }
    app.wait_for_flush();
    let tokens = b.get("/admin/api/tokens").json();
    let id_of = |secret: &str| {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| secret.contains(t["prefix"].as_str().unwrap()))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (id_one, id_two) = (id_of(&one), id_of(&two));
    let audit = b
        .get(&format!("/admin/api/audit?token_id={id_one}&limit=50"))
        .json();
    let rows = audit["data"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{audit}");
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(
        rows.iter().all(|r| r["token_id"].as_i64() == Some(id_one)),
        "{audit}"
    );
    let usage = b.get(&format!("/admin/api/tokens/{id_two}/usage")).json();
    let recent = usage["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "{usage}");
    assert!(
        recent
            .iter()
            .all(|r| r["token_id"].as_i64() == Some(id_two)),
        "{usage}"
    );
}

#[test]
fn a_webhook_secret_is_shown_once() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "https://hooks.example.com/in", "events": ["lead.created"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let list = b.get("/admin/api/webhooks");
    assert!(!list.text.contains(&secret));
    assert_eq!(list.json()[0]["events"], json!(["lead.created"]));
    let types = b.get("/admin/api/webhooks/events").json();
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "invoice.deleted")
    );
    for body in [
        json!({"url": "ftp://x", "events": ["lead.created"]}),
        json!({"url": "https://x.example", "events": ["lead.exploded"]}),
    ] {
        assert_eq!(b.post("/admin/api/webhooks", &body).status, 422, "{body}");
    }
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        b.call("DELETE", &format!("/admin/api/webhooks/{id}"), None)
            .status,
        204
    );
    assert_eq!(b.get("/admin/api/webhooks").json(), json!([]));
}

/// The deliveries list shows the delivery of every change committed before it was asked for,
/// although the server makes deliveries from events after the change's commit, in bulk.
#[test]
fn the_deliveries_list_shows_the_delivery_of_a_change_made_just_before() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["lead.created"]}),
    );
    let id = r.json()["id"].as_i64().unwrap();
    let token = app.admin_token();
    for n in 1..=20 {
        let lead = app.post(
            "/api/v1/leads",
            &token,
            &json!({ "name": format!("Lead {n}") }),
        );
        assert_eq!(lead.status, 201, "{}", lead.text);
        let list = b
            .get(&format!("/admin/api/deliveries?endpoint_id={id}"))
            .json();
        assert_eq!(list.as_array().unwrap().len(), n, "after lead {n}: {list}");
    }
}

#[test]
fn webhook_endpoints_pause_rotate_test_and_replay_from_the_admin_api() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
    );
    let first_secret = r.json()["secret"].as_str().unwrap().to_owned();
    let id = r.json()["id"].as_i64().unwrap();

    let test = b.call("POST", &format!("/admin/api/webhooks/{id}/test"), None);
    assert_eq!(test.status, 202, "{}", test.text);
    assert_eq!(test.json()["event_type"], "webhook.test");
    let list = b.get("/admin/api/deliveries").json();
    let delivery = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "webhook.test")
        .expect("the test delivery is listed")
        .clone();
    let did = delivery["id"].as_i64().unwrap();
    let replay = b.call("POST", &format!("/admin/api/deliveries/{did}/replay"), None);
    assert!(matches!(replay.status, 200 | 409), "{}", replay.text);
    if replay.status == 200 {
        assert_eq!(
            replay.json()["webhook_id"],
            delivery["webhook_id"],
            "same message id"
        );
    }
    assert_eq!(b.get("/admin/api/deliveries?status=exploded").status, 422);
    assert_eq!(
        b.call("POST", "/admin/api/deliveries/999999/replay", None)
            .status,
        404
    );

    let off = b.patch(
        &format!("/admin/api/webhooks/{id}"),
        &json!({"enabled": false}),
    );
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.json()["enabled"], false);
    let on = b.patch(
        &format!("/admin/api/webhooks/{id}"),
        &json!({"enabled": true}),
    );
    assert_eq!(on.json()["enabled"], true);
    assert_eq!(
        b.patch(
            &format!("/admin/api/webhooks/{id}"),
            &json!({"enabled": "yes"})
        )
        .status,
        422
    );

    let rotated = b.call(
        "POST",
        &format!("/admin/api/webhooks/{id}/rotate-secret"),
        None,
    );
    let second = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first_secret);
    assert!(!b.get("/admin/api/webhooks").text.contains(&second));
}

#[test]
fn another_accounts_things_do_not_exist_for_an_admin() {
    let app = spawn_app();
    let b = admin(&app);
    app.add_account_with_admin("other", "them@example.com");
    let theirs = app.token_for("them@example.com", &["leads:read"]);
    let endpoint = app.manage(|c| {
        switchboard::manage::webhooks::add(c, "other", "https://x.example/h", &["*".into()], None)
    });
    let tid = app.query(|c| c.query_row("SELECT id FROM api_tokens", [], |r| r.get::<_, i64>(0)));
    let uid = app.query(|c| {
        c.query_row(
            "SELECT id FROM users WHERE email = 'them@example.com'",
            [],
            |r| r.get::<_, i64>(0),
        )
    });
    let eid = endpoint.endpoint.id.0;
    assert_eq!(b.get("/admin/api/tokens").json(), json!([]));
    assert_eq!(
        b.post(&format!("/admin/api/tokens/{tid}/revoke"), &json!({}))
            .status,
        404
    );
    assert_eq!(
        b.patch(
            &format!("/admin/api/users/{uid}"),
            &json!({"disabled": true})
        )
        .status,
        404
    );
    assert_eq!(
        b.call("DELETE", &format!("/admin/api/webhooks/{eid}"), None)
            .status,
        404
    );
    assert_eq!(app.get("/api/v1/leads", &theirs).status, 200, "untouched");
    assert_eq!(b.get("/admin/api/tokens/abc").status, 404);
}
