//! Token lifecycle: expiry, rotation, updates, kill switches, inactivity, last-used, audit.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use switchboard::clock;
use switchboard::manage::accounts::AccountChanges;
use switchboard::manage::tokens::{self, Everyone, Expiry, TokenChanges};
use switchboard::model::Role;

use crate::helpers::{ALL_SCOPES, eventually, spawn_app};

fn prefix(token: &str) -> &str {
    &token[3..11]
}

#[test]
fn an_expired_token_answers_token_expired_with_its_challenge() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.expiry = Expiry::In(Duration::from_secs(1))
    });
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    assert!(eventually(Duration::from_secs(5), || app
        .get("/api/v1/leads", &t)
        .code()
        == "token_expired"));
    let r = app.get("/api/v1/leads", &t);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            r#"Bearer realm="switchboard", error="invalid_token", error_description="token expired""#
        )
    );
}

#[test]
fn updating_the_expiry_revives_an_expired_token_and_no_expiry_is_shown_as_null() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.expiry = Expiry::In(Duration::from_secs(1))
    });
    assert!(eventually(Duration::from_secs(5), || app
        .get("/api/v1/leads", &t)
        .code()
        == "token_expired"));
    let changes = TokenChanges {
        expiry: Some(Expiry::Never),
        ..TokenChanges::default()
    };
    app.manage(|c| tokens::update(c, prefix(&t), changes));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &t)
        .status
        == 200));
    assert!(app.get("/api/v1/me", &t).json()["expires_at"].is_null());
}

#[test]
fn rotation_without_grace_kills_the_old_token_at_once() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let old = app.token_for("a@example.com", &["leads:read"]);
    assert_eq!(app.get("/api/v1/leads", &old).status, 200);
    let new = app.manage(|c| tokens::rotate(c, prefix(&old), None));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &old)
        .code()
        == "invalid_token"));
    assert_eq!(app.get("/api/v1/leads", &new.plaintext).status, 200);
    let me = app.get("/api/v1/me", &new.plaintext).json();
    assert_eq!(me["scopes"], json!(["leads:read"]), "same scopes");
    let shown = app.query(|c| {
        Ok(switchboard::store::tokens::find(c, prefix(&old))
            .unwrap()
            .unwrap())
    });
    assert_eq!(shown.replaced_by, Some(new.token.id));
    assert_eq!(new.token.replaces, Some(shown.id));
}

#[test]
fn rotation_grace_keeps_the_old_token_until_the_deadline_and_not_after() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let old = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.allow_ips = vec!["127.0.0.0/8".into()]
    });
    let new = app.manage(|c| tokens::rotate(c, prefix(&old), Some(Duration::from_secs(2))));
    assert_eq!(
        new.token.allow_ips,
        ["127.0.0.0/8"],
        "the allow-list carries over"
    );
    // Both sides of the deadline: before it, both work.
    assert_eq!(app.get("/api/v1/leads", &old).status, 200);
    assert_eq!(app.get("/api/v1/leads", &new.plaintext).status, 200);
    assert!(eventually(Duration::from_secs(6), || app
        .get("/api/v1/leads", &old)
        .code()
        == "invalid_token"));
    assert_eq!(app.get("/api/v1/leads", &new.plaintext).status, 200);
}

#[test]
fn a_revoked_or_rotated_token_cannot_be_rotated_again() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &ALL_SCOPES);
    app.manage(|c| tokens::rotate(c, prefix(&t), None));
    let mut conn = switchboard::store::open_connection(&app.db_path).unwrap();
    let again =
        switchboard::store::with_management_tx(&mut conn, |c| tokens::rotate(c, prefix(&t), None));
    assert!(again.is_err());
}

#[test]
fn kill_switches_revoke_every_token_of_a_user_or_an_account_at_once() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Agent);
    app.add_user("b@example.com", Role::Agent);
    let a1 = app.token_for("a@example.com", &ALL_SCOPES);
    let a2 = app.token_for("a@example.com", &ALL_SCOPES);
    let b = app.token_for("b@example.com", &ALL_SCOPES);
    let revoked =
        app.manage(|c| tokens::revoke_all(c, &Everyone::User("a@example.com".into()), "manual"));
    assert_eq!(revoked.len(), 2);
    assert!(eventually(Duration::from_secs(1), || {
        app.get("/api/v1/leads", &a1).status == 401 && app.get("/api/v1/leads", &a2).status == 401
    }));
    assert_eq!(app.get("/api/v1/leads", &b).status, 200);
    app.manage(|c| tokens::revoke_all(c, &Everyone::Account("default".into()), "manual"));
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &b)
        .status
        == 401));
}

#[test]
fn tokens_unused_beyond_the_account_policy_are_revoked_with_the_reason() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &ALL_SCOPES);
    let policy = AccountChanges {
        revoke_unused_after: Some(Some(Duration::from_secs(1))),
        ..AccountChanges::default()
    };
    app.manage(|c| switchboard::manage::accounts::update(c, "default", policy));
    // Using the token would keep it alive: watch the database instead.
    let reason = || {
        app.query(|c| {
            c.query_row(
                "SELECT revoked_reason FROM api_tokens WHERE prefix = ?1",
                [prefix(&t)],
                |r| r.get::<_, Option<String>>(0),
            )
        })
    };
    assert!(eventually(Duration::from_secs(10), || reason().is_some()));
    assert_eq!(reason().as_deref(), Some("inactivity"));
    let r = app.get("/api/v1/leads", &t);
    assert_eq!(r.code(), "invalid_token", "the cache was dropped at once");
}

#[test]
fn last_used_is_stamped_in_batches_far_fewer_than_the_calls() {
    let app = spawn_app();
    let t = app.admin_token();
    let before = app.recorder().stamps_written.load(Ordering::SeqCst);
    for _ in 0..200 {
        assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    }
    app.wait_for_flush();
    let stamps = app.recorder().stamps_written.load(Ordering::SeqCst) - before;
    assert!((1..=10).contains(&stamps), "200 calls made {stamps} stamps");
    let (at, ip) = app.query(|c| {
        c.query_row(
            "SELECT last_used_at, last_used_ip FROM api_tokens WHERE prefix = ?1",
            [prefix(&t)],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
    });
    assert!(clock::now_ms() - at < 60_000);
    assert_eq!(ip, "127.0.0.1");
}

#[test]
fn every_call_is_audited_denied_ones_with_their_reason_and_never_a_secret() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &["leads:read"]);
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    assert_eq!(app.get("/api/v1/jobs", &t).status, 403);
    assert_eq!(app.get("/api/v1/leads", "sb_nope").status, 401);
    assert_eq!(app.send("GET", "/api/v1/leads", &[], None).status, 401);
    app.wait_for_flush();
    let rows = app.query(|c| {
        let mut stmt =
            c.prepare("SELECT path, status, code, token_prefix, ip FROM audit_log ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    });
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(
        rows[0],
        (
            "/api/v1/leads".into(),
            200,
            None,
            Some(prefix(&t).into()),
            "127.0.0.1".into()
        )
    );
    assert_eq!(rows[1].2.as_deref(), Some("insufficient_scope"));
    assert_eq!(rows[2].2.as_deref(), Some("invalid_token"));
    assert_eq!(rows[3].2.as_deref(), Some("missing_token"));
    let dump = app.query(|c| {
        let mut stmt = c.prepare("SELECT * FROM audit_log")?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" "))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    });
    assert!(
        !dump.join("\n").contains(&t[12..]),
        "the secret part of a token never reaches the audit log"
    );
    let usage = app.query(|c| {
        c.query_row("SELECT requests, errors FROM token_usage_daily", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
    });
    assert_eq!(usage, (2, 1), "two calls of the token, one refused");
}

#[test]
fn updates_change_name_allow_list_and_limits_and_go_back_to_defaults() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_for("a@example.com", &ALL_SCOPES);
    let changes = TokenChanges {
        name: Some("renamed".into()),
        limits: Some(Some(vec!["5/1s".into(), "50/1m".into()])),
        ..TokenChanges::default()
    };
    app.manage(|c| tokens::update(c, prefix(&t), changes));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/me", &t)
        .json()["name"]
        == "renamed"));
    let me = app.get("/api/v1/me", &t).json();
    assert_eq!(me["limits"][0]["limit"], "5/1s");
    assert_eq!(me["default_limits"], false);
    let back = TokenChanges {
        limits: Some(None),
        ..TokenChanges::default()
    };
    app.manage(|c| tokens::update(c, prefix(&t), back));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/me", &t)
        .json()["default_limits"]
        == true));
}
