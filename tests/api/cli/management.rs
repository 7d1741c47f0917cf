//! Management commands: tokens, users, passwords, webhooks, and their effect on a running server.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::{BIN, run, run_json};
use crate::helpers::{eventually, spawn_app};

#[test]
fn management_commands_print_one_json_document_and_never_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let accounts = run_json(&db, &["account", "list", "--json"]);
    assert_eq!(accounts[0]["name"], "default");
    assert_eq!(accounts[0]["plan"], "pro");
    assert_eq!(accounts[0]["status"], "active");
    let user = run_json(
        &db,
        &["user", "add", "--email", "Ada@Example.com", "--json"],
    );
    assert_eq!(user["role"], "agent", "least privilege by default");
    assert_eq!(user["permissions"].as_array().unwrap().len(), 8);
    let created = run_json(
        &db,
        &[
            "token",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "import",
            "--scope",
            "leads:read",
            "--expires-in",
            "90d",
            "--allow-ip",
            "10.0.0.1",
            "--limit",
            "5/1s",
            "--json",
        ],
    );
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("sb_") && token.len() == 60);
    assert_eq!(created["prefix"], &token[3..11]);
    assert_eq!(created["scopes"], serde_json::json!(["leads:read"]));
    assert!(created["expires_at"].is_string());
    assert_eq!(created["allow_ips"], serde_json::json!(["10.0.0.1/32"]));
    assert_eq!(created["limits"], serde_json::json!(["5/1s"]));
    let list = run_json(&db, &["token", "list", "--json"]);
    let shown = &list[0];
    for key in [
        "id",
        "prefix",
        "name",
        "user",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "allow_ips",
        "limits",
    ] {
        assert!(shown.get(key).is_some(), "token list shows {key}");
    }
    let text = serde_json::to_string(&list).unwrap();
    assert!(
        !text.contains(&token[12..]) && !text.contains("hash"),
        "no secret, no hash"
    );
    let show = run_json(&db, &["token", "show", &token[3..11], "--json"]);
    assert_eq!(show["user"], "ada@example.com");
    assert!(show.get("replaced_by").is_some() && show.get("replaces").is_some());
    let rotated = run_json(
        &db,
        &["token", "rotate", &token[3..11], "--grace", "1h", "--json"],
    );
    assert_ne!(rotated["token"], created["token"]);
    assert_eq!(
        run_json(&db, &["token", "show", &token[3..11], "--json"])["replaced_by"],
        rotated["id"]
    );
    let revoked = run_json(
        &db,
        &[
            "token",
            "revoke",
            rotated["prefix"].as_str().unwrap(),
            "--json",
        ],
    );
    assert!(revoked["revoked_at"].is_string());
}

#[test]
fn check_token_is_offline_and_answers_by_exit_code() {
    let valid = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";
    let missing_db = Path::new("/nonexistent/dir/never.db");
    assert!(run(missing_db, &["check-token", valid]).status.success());
    let bad = run(missing_db, &["check-token", &valid.replace("AbCd", "AbCe")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(!missing_db.exists());
    assert_eq!(
        run_json(missing_db, &["check-token", valid, "--json"]),
        json!({"valid": true, "prefix": "AbCd1234"})
    );
    let bad = run(missing_db, &["check-token", "sb_nope", "--json"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty(), "a failure prints no document");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a well-formed"), "{stderr}");
}

#[test]
fn a_cli_change_reaches_a_running_server_within_one_second() {
    let app = spawn_app();
    let t = app.admin_token();
    assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    let out = run(
        &app.db_path,
        &["account", "update", "default", "--status", "past_due"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &t)
        .status
        == 402));
    let out = run(
        &app.db_path,
        &["account", "update", "default", "--status", "active"],
    );
    assert!(out.status.success());
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &t)
        .status
        == 200));
    let out = run(&app.db_path, &["token", "revoke", &t[3..11]]);
    assert!(out.status.success());
    assert!(eventually(Duration::from_secs(1), || app
        .get("/api/v1/leads", &t)
        .status
        == 401));
}

#[test]
fn a_password_is_read_from_stdin_and_stored_as_argon2id() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pw.db");
    let mut child = Command::new(BIN)
        .args([
            "--db",
            db.to_str().unwrap(),
            "user",
            "add",
            "--email",
            "boss@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let hash: String = conn
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains("horse"));
}

#[test]
fn webhook_add_prints_the_contract_shape_with_the_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hooks.db");
    let added = run_json(
        &db,
        &[
            "webhook",
            "add",
            "--url",
            "http://127.0.0.1:9/hook",
            "--event",
            "lead.created",
            "--json",
        ],
    );
    assert!(added["id"].as_i64().unwrap() > 0);
    assert_eq!(added["url"], "http://127.0.0.1:9/hook");
    assert_eq!(added["events"], serde_json::json!(["lead.created"]));
    let secret = added["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    let listed = serde_json::to_string(&run_json(&db, &["webhook", "list", "--json"])).unwrap();
    assert!(
        !listed.contains(&secret[6..]),
        "the secret is shown once, at creation"
    );
    let bad = run(
        &db,
        &[
            "webhook",
            "add",
            "--url",
            "ftp://x",
            "--event",
            "lead.created",
        ],
    );
    assert!(!bad.status.success());
}

/// `webhook remove ID` removes the endpoint (it is listed no more, a second remove is refused),
/// and its id is not handed to the next endpoint added.
#[test]
fn webhook_remove_takes_the_endpoint_and_its_id_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hooks.db");
    let add = || {
        run_json(
            &db,
            &[
                "webhook",
                "add",
                "--url",
                "http://127.0.0.1:9/hook",
                "--event",
                "lead.created",
                "--json",
            ],
        )["id"]
            .as_i64()
            .unwrap()
    };
    let (kept, newest) = (add(), add());
    let gone = newest.to_string();
    assert!(run(&db, &["webhook", "remove", &gone]).status.success());
    let listed: Vec<i64> = run_json(&db, &["webhook", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![kept]);
    let again = run(&db, &["webhook", "remove", &gone]);
    assert!(!again.status.success(), "no endpoint {gone} any more");
    let next = add();
    assert!(next > newest, "{next} after removing {newest}");
}
