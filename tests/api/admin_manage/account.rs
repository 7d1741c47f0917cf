//! The account: its allow-list and plan, its usage and audit log, and another account's things.

use serde_json::json;

use crate::admin::admin;
use crate::helpers::spawn_app;

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
