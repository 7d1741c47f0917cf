//! What the commands print: aligned tables, the accounts a list covers, and the help text.

use std::process::{Command, Output};

use serde_json::Value;

use super::{BIN, run, run_json};

/// Asserts that every line of a table starts each column where its header does.
fn assert_aligned(out: &Output, columns: &[&str]) {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    let starts: Vec<usize> = columns
        .iter()
        .map(|c| header.find(c).unwrap_or_else(|| panic!("{c} in {header}")))
        .collect();
    for line in lines.filter(|l| !l.trim_start().starts_with("disabled:")) {
        let chars: Vec<char> = line.chars().collect();
        for (column, &at) in columns.iter().zip(&starts).skip(1) {
            assert!(
                chars.get(at - 1) == Some(&' ') && chars.get(at).is_some_and(|c| *c != ' '),
                "{column} starts at {at} in\n{header}\n{line}"
            );
        }
    }
}

/// Tables line up whatever their cells hold: a long name or email widens its column, and
/// values such as a plan, a role or a status are padded like the rest.
#[test]
fn every_table_lines_up_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tables.db");
    let email = "someone-with-a-long-address@example.com";
    run_json(
        &db,
        &[
            "account",
            "create",
            "A business with a long name",
            "--plan",
            "starter",
            "--status",
            "past_due",
            "--json",
        ],
    );
    run_json(
        &db,
        &["user", "add", "--email", email, "--role", "admin", "--json"],
    );
    run_json(&db, &["user", "add", "--email", "b@example.com", "--json"]);
    run_json(
        &db,
        &[
            "token",
            "create",
            "--user",
            email,
            "--name",
            "a rather long token name",
            "--scope",
            "leads:read",
            "--json",
        ],
    );
    let hook = run_json(
        &db,
        &[
            "webhook",
            "add",
            "--url",
            "https://example.com/a/long/path/to/the/receiver",
            "--event",
            "*",
            "--json",
        ],
    );
    let id = hook["id"].to_string();
    run_json(&db, &["webhook", "test", &id, "--json"]);
    run_json(&db, &["webhook", "disable", &id, "--json"]);
    // One call in the audit log, as the server would have logged it (no server runs here).
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO audit_log (at, account_id, token_prefix, method, path, status, ip, \
             latency_us) VALUES (unixepoch() * 1000, (SELECT id FROM accounts WHERE name = 'default'), \
             'abcdefgh', 'GET', '/api/v1/leads', 200, '127.0.0.1', 10)",
            [],
        )
        .unwrap();
    let logged = run_json(&db, &["audit", "--all-accounts", "--json"]);
    assert_eq!(logged[0]["account"], "default", "{logged}");
    let tables: &[(&[&str], &[&str])] = &[
        (
            &["account", "list"],
            &["ID", "NAME", "PLAN", "STATUS", "API", "ALLOW-LIST"],
        ),
        (
            &["user", "list"],
            &["ID", "EMAIL", "ROLE", "ACCOUNT", "STATE", "PERMISSIONS"],
        ),
        (
            &["token", "list"],
            &[
                "ID",
                "PREFIX",
                "STATUS",
                "USER",
                "ACCOUNT",
                "NAME",
                "LAST USED",
                "SCOPES",
            ],
        ),
        (
            &["webhook", "list"],
            &["ID", "ACCOUNT", "ENABLED", "URL", "EVENTS"],
        ),
        (
            &["webhook", "deliveries"],
            &[
                "ID",
                "ENDPOINT",
                "ACCOUNT",
                "EVENT",
                "STATUS",
                "ATTEMPTS",
                "HTTP",
                "NEXT ATTEMPT",
                "LAST ERROR",
            ],
        ),
        (
            // The account's own list reads the ranges the server keeps beside its rows.
            &["audit", "--all-accounts"],
            &[
                "AT", "ACCOUNT", "TOKEN", "METHOD", "PATH", "STATUS", "CODE", "IP",
            ],
        ),
    ];
    for (args, columns) in tables {
        let out = run(&db, args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).lines().count() >= 2,
            "{args:?}: rows"
        );
        assert_aligned(&out, columns);
    }
}

/// Without --account, the list commands act on the account named `default` (CONTRACT.md);
/// --account names another, --all-accounts lists them all, and --user or --endpoint lists
/// what belongs to that user or endpoint, in whichever account.
#[test]
fn list_commands_act_on_the_default_account_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("accounts.db");
    run_json(&db, &["account", "create", "acme", "--json"]);
    for (email, account) in [("d@example.com", "default"), ("a@example.com", "acme")] {
        run_json(
            &db,
            &[
                "user",
                "add",
                "--email",
                email,
                "--account",
                account,
                "--json",
            ],
        );
        run_json(
            &db,
            &[
                "token",
                "create",
                "--user",
                email,
                "--name",
                account,
                "--scope",
                "leads:read",
                "--json",
            ],
        );
        let hook = run_json(
            &db,
            &[
                "webhook",
                "add",
                "--url",
                &format!("https://{account}.example/hook"),
                "--event",
                "*",
                "--account",
                account,
                "--json",
            ],
        );
        run_json(&db, &["webhook", "test", &hook["id"].to_string(), "--json"]);
    }
    let acme_hook =
        run_json(&db, &["webhook", "list", "--account", "acme", "--json"])[0]["id"].to_string();
    let listed = |args: &[&str], key: &str| -> Vec<String> {
        let v = run_json(&db, &[args, &["--json"]].concat());
        let mut seen: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match &e[key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        seen.sort();
        seen
    };
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["token", "list"], "name", &["default"]),
        (&["token", "list", "--account", "acme"], "name", &["acme"]),
        (
            &["token", "list", "--all-accounts"],
            "name",
            &["acme", "default"],
        ),
        (
            &["token", "list", "--user", "a@example.com"],
            "name",
            &["acme"],
        ),
        (&["user", "list"], "email", &["d@example.com"]),
        (
            &["user", "list", "--account", "acme"],
            "email",
            &["a@example.com"],
        ),
        (
            &["user", "list", "--all-accounts"],
            "email",
            &["a@example.com", "d@example.com"],
        ),
        (
            &["webhook", "list"],
            "url",
            &["https://default.example/hook"],
        ),
        (
            &["webhook", "list", "--all-accounts"],
            "url",
            &["https://acme.example/hook", "https://default.example/hook"],
        ),
        (&["webhook", "deliveries"], "event_type", &["webhook.test"]),
        (
            &["webhook", "deliveries", "--endpoint", &acme_hook],
            "endpoint_id",
            &[&acme_hook],
        ),
        (
            &["webhook", "deliveries", "--all-accounts"],
            "event_type",
            &["webhook.test", "webhook.test"],
        ),
        (
            &["webhook", "list", "--all-accounts"],
            "account",
            &["acme", "default"],
        ),
        (
            &["webhook", "deliveries", "--all-accounts"],
            "account",
            &["acme", "default"],
        ),
    ];
    for (args, key, expected) in cases {
        assert_eq!(listed(args, key), *expected, "{args:?}");
    }
    let acme_delivery = &run_json(
        &db,
        &["webhook", "deliveries", "--account", "acme", "--json"],
    )[0];
    assert_eq!(acme_delivery["endpoint_id"].to_string(), acme_hook);
    let both = run(
        &db,
        &["token", "list", "--account", "acme", "--all-accounts"],
    );
    assert_eq!(both.status.code(), Some(2), "one or the other");
    let audited = |args: &[&str]| run_json(&db, &[args, &["--json"]].concat());
    let everywhere = audited(&["audit", "--all-accounts"]);
    let here = audited(&["audit"]);
    assert!(
        everywhere.as_array().unwrap().len() >= here.as_array().unwrap().len(),
        "every account's calls, the default one's among them"
    );
}

/// The help says how the environment is read: RUST_LOG for logging, comma-separated lists
/// in SWITCHBOARD_* variables.
#[test]
fn help_explains_rust_log_and_lists_in_the_environment() {
    for args in [&["--help"][..], &["serve", "--help"], &["serve", "-h"]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "RUST_LOG",
            "comma-separated",
            "SWITCHBOARD_TRUSTED_PROXY=10.0.0.0/8,",
        ] {
            assert!(help.contains(needle), "{args:?} mentions {needle}: {help}");
        }
    }
}
