//! How commands fail: bad input, fatal errors (plain or JSON) and usage errors, each on one line.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{BIN, run, run_json};
use crate::helpers::spawn_app;

/// Environment variables to set for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn bad_input_exits_non_zero_with_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    run_json(
        &db,
        &[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--permission",
            "leads:read",
            "--json",
        ],
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "token",
                "create",
                "--user",
                "a@example.com",
                "--name",
                "x",
                "--scope",
                "leads:write",
            ],
            "lacks the permission",
        ),
        (
            &[
                "token",
                "create",
                "--user",
                "a@example.com",
                "--name",
                "x",
                "--scope",
                "leads:admin",
            ],
            "not a scope",
        ),
        (
            &[
                "token",
                "create",
                "--user",
                "nobody@example.com",
                "--name",
                "x",
                "--scope",
                "leads:read",
            ],
            "no user",
        ),
        (
            &[
                "token",
                "create",
                "--user",
                "a@example.com",
                "--name",
                "x",
                "--scope",
                "leads:read",
                "--expires-in",
                "5y",
            ],
            "duration",
        ),
        (
            &[
                "token",
                "create",
                "--user",
                "a@example.com",
                "--name",
                "x",
                "--scope",
                "leads:read",
                "--allow-ip",
                "nope",
            ],
            "IP",
        ),
        (
            &[
                "token",
                "create",
                "--user",
                "a@example.com",
                "--name",
                "x",
                "--scope",
                "leads:read",
                "--limit",
                "5/2s",
            ],
            "limit",
        ),
        (
            &["user", "add", "--email", "a@example.com"],
            "already exists",
        ),
        (&["user", "add", "--email", "not-an-email"], "email"),
        (&["account", "create", "default"], "already exists"),
        (&["token", "revoke", "ZZZZZZZZ"], "no token"),
    ];
    for (args, needle) in cases {
        let out = run(&db, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
    }
    assert_eq!(
        run_json(&db, &["token", "list", "--json"]),
        serde_json::json!([])
    );
}

/// A command that cannot start says why on one line, stating each cause once; for a
/// database path, what is wrong with its directory, before SQLite's "unable to open" (once).
#[test]
fn a_fatal_error_is_one_line_that_states_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nodir");
    let in_missing = missing.join("x.db");
    let fine = dir.path().join("fine.db");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let mut cases: Vec<(Vec<&str>, &Path, String)> = vec![
        (
            vec!["serve", "--listen", "127.0.0.1:0"],
            &in_missing,
            format!("the directory {} does not exist", missing.display()),
        ),
        (
            vec!["account", "list"],
            &in_missing,
            format!("the directory {} does not exist", missing.display()),
        ),
        // The bind error printed its OS error twice.
        (
            vec!["serve", "--listen", &busy],
            &fine,
            "already in use".to_owned(),
        ),
    ];
    // Only a user the permission bits bind can meet a read-only directory (not root).
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let in_locked = locked.join("x.db");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = locked.join("probe");
    if std::fs::write(&probe, "").is_ok() {
        std::fs::remove_file(&probe).unwrap(); // root: the bits bind no one
    } else {
        cases.push((
            vec!["migrate"],
            &in_locked,
            format!("the directory {} is not writable", locked.display()),
        ));
    }
    for (args, db, cause) in &cases {
        let out = run(db, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert_eq!(
            stderr.matches(cause.as_str()).count(),
            1,
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.matches("unable to open").count() <= 1,
            "{args:?}: {stderr}"
        );
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(taken);
}

/// With `--log-format json` (flag, environment or file), the reason a command could not
/// start is one JSON object like the other log lines, whatever `RUST_LOG` says.
#[test]
fn with_json_logs_a_fatal_error_is_one_json_object_even_with_logging_off() {
    let app = spawn_app();
    let dir = tempfile::tempdir().unwrap();
    let fine = dir.path().join("fine.db");
    let missing = dir.path().join("nodir/x.db");
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "log_format = \"json\"\nlisten_port = 8080\n").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let cases: &[(&Path, Vec<&str>, Env, &str)] = &[
        (
            &missing,
            [&["--log-format", "json"][..], &serve].concat(),
            &[],
            "does not exist",
        ),
        (
            &fine,
            vec!["serve", "--listen", &busy],
            &[("SWITCHBOARD_LOG_FORMAT", "json")],
            "already in use",
        ),
        (
            &fine,
            vec!["--config", file.to_str().unwrap(), "serve"],
            &[],
            "listen_port",
        ),
        (
            &app.db_path,
            [&["--log-format", "json"][..], &serve].concat(),
            &[],
            "a switchboard server is using",
        ),
        (
            &missing,
            vec!["--log-format", "json", "account", "list"],
            &[],
            "does not exist",
        ),
    ];
    for (db, args, env, needle) in cases {
        let out = Command::new(BIN)
            .arg("--db")
            .arg(db)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let line: Value = serde_json::from_str(&stderr)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON object ({e}): {stderr}"));
        assert_eq!(line["level"], "ERROR", "{args:?}");
        assert!(line["timestamp"].is_string() && line["target"].is_string());
        let message = line["message"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    let plain = run(&missing, &["account", "list"]);
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        stderr.starts_with("error: "),
        "pretty stays as it was: {stderr}"
    );
    drop(taken);
}

/// A usage error is one line on stderr with exit status 2, as any other failure is one
/// line; `--help` and `--version` still print in full on stdout.
#[test]
fn usage_errors_are_one_line_with_status_2_and_help_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let cases: &[(&[&str], Env, &str)] = &[
        (
            &["token", "create", "--user", "a@example.com", "--name", "x"],
            &[],
            "the following required arguments were not provided: --scope <SCOPE> \
             (see switchboard token create --help)",
        ),
        (
            &["token", "update", "x", "--expires-in", "1d", "--no-expiry"],
            &[],
            "cannot be used with",
        ),
        (&["account", "create", "x", "--plan", "gold"], &[], "gold"),
        (
            &["serve"],
            &[("SWITCHBOARD_WEBHOOK_DENY_PRIVATE", "1")],
            "'1'",
        ),
        (
            &["migrate", "--bogus"],
            &[],
            "unexpected argument '--bogus'",
        ),
        (&["token"], &[], "'switchboard token' needs a subcommand"),
        // Without any argument clap prints the whole help; with --db, its own message.
        (&[], &[], "'switchboard' "),
    ];
    for (args, env, needle) in cases {
        let out = Command::new(BIN)
            .arg("--db")
            .arg(&db)
            .args(*args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let bare = Command::new(BIN).output().unwrap();
    let stderr = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(bare.status.code(), Some(2));
    assert_eq!(stderr.lines().count(), 1, "not the whole help: {stderr}");
    assert!(
        stderr.contains("'switchboard' needs a subcommand: serve, migrate"),
        "{stderr}"
    );
    for args in [
        &["--help"][..],
        &["--version"],
        &["token", "create", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert!(!db.exists(), "a usage error opens no database");
}
