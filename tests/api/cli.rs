//! The real binary: the smoke test (serve, health, SIGTERM, exit 0), the management commands
//! and their `--json` output, and CLI changes reaching a running server within one second.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{eventually, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Environment variables to set for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn run_json(db: &Path, args: &[&str]) -> Value {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no single JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_binary_serves_answers_health_checks_and_stops_cleanly_on_sigterm() {
    serve_then_stop("TERM", true);
}

/// Ctrl-C in a terminal stops gracefully too (CONTRACT.md); SIGQUIT does not wait.
#[test]
fn sigint_and_sigquit_stop_the_binary_cleanly() {
    serve_then_stop("INT", true);
    serve_then_stop("QUIT", false);
}

/// A server whose log pipe died (`serve 2>&1 | some-filter` that exited) still stops on
/// SIGTERM: its "stopping" line cannot be written, which must not end the task that stops it.
#[test]
fn sigterm_stops_a_server_whose_stderr_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gone.db");
    let port = free_port();
    let child = Command::new(BIN)
        .args(["--db", db.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let url = format!("http://127.0.0.1:{port}/healthz");
    assert!(eventually(Duration::from_secs(20), || {
        ureq::get(&url).call().is_ok()
    }));
    drop(server.0.stderr.take()); // the pipe's reader is gone: writes to stderr fail
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for_exit(&mut server.0, Duration::from_secs(30));
    assert!(exit.success(), "{exit:?}");
}

/// The child's exit status; kills it and fails after `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the server did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Serves, checks health, sends SIG`signal` and checks the exit and the log line that says
/// why the server stopped.
fn serve_then_stop(signal: &str, graceful: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("smoke.db");
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "--db",
            db.to_str().unwrap(),
            "--log-format",
            "json",
            "serve",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = |path: &str| {
        agent
            .get(format!("http://127.0.0.1:{port}{path}"))
            .call()
            .map(|r| r.status().as_u16())
            .ok()
    };
    assert!(eventually(Duration::from_secs(20), || health("/healthz") == Some(200)));
    assert_eq!(health("/readyz"), Some(200));
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // A signal nobody heard would leave the server running: bounded, to fail, not hang.
    let exit = wait_for_exit(&mut server.0, Duration::from_secs(60));
    assert!(exit.success(), "a stop by signal exits 0: {exit:?}");
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut stopping = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            panic!("with --log-format json every line is JSON: {line}");
        };
        if v["message"] == "stopping" {
            stopping.push((v["signal"].clone(), v["graceful"].clone()));
        }
    }
    assert_eq!(
        stopping,
        [(json!(format!("SIG{signal}")), json!(graceful))],
        "one line says why the server stops"
    );
}

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
fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logs.db");
    run_json(
        &db,
        &[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--role",
            "admin",
            "--json",
        ],
    );
    let created = run_json(
        &db,
        &[
            "token",
            "create",
            "--user",
            "a@example.com",
            "--name",
            "t",
            "--scope",
            "leads:read",
            "--json",
        ],
    );
    let token = created["token"].as_str().unwrap().to_owned();
    let port = free_port();
    let child = Command::new(BIN)
        .args(["--db", db.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    assert!(eventually(Duration::from_secs(20), || agent
        .get(format!("{base}/healthz"))
        .call()
        .is_ok()));
    for auth in [format!("Bearer {token}"), "Bearer sb_wrong".to_owned()] {
        agent
            .get(format!("{base}/api/v1/leads"))
            .header("authorization", &auth)
            .call()
            .unwrap();
    }
    agent
        .get(format!("{base}/api/v1/leads"))
        .header("x-api-key", &token)
        .call()
        .unwrap();
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    server.0.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.len() > 100, "trace logging produced output");
    let secret = &token[12..];
    assert!(
        !log.contains(secret),
        "the token's secret appeared in the log"
    );
    let hash: String = switchboard::auth::token::hash(&token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!log.contains(&hash), "the token's hash appeared in the log");
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

/// Serves `db` with `args` and `env` until healthy, stops it with SIGTERM, and returns what
/// it wrote to stderr.
fn serve_briefly(db: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let port = free_port();
    let child = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let url = format!("http://127.0.0.1:{port}/healthz");
    assert!(eventually(Duration::from_secs(20), || ureq::get(&url)
        .call()
        .is_ok()));
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(wait_for_exit(&mut server.0, Duration::from_secs(60)).success());
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut log).unwrap();
    log
}

/// The first-run setup address is printed once whatever `RUST_LOG` filters out, as a JSON
/// object with `--log-format json`; once an admin exists it is not printed.
#[test]
fn the_setup_address_is_printed_once_even_with_logging_off() {
    let dir = tempfile::tempdir().unwrap();
    for (name, filter) in [("off", "off"), ("error", "error")] {
        let db = dir.path().join(format!("{name}.db"));
        let log = serve_briefly(&db, &[], &[("RUST_LOG", filter)]);
        assert_eq!(
            log.matches("/admin/setup?code=").count(),
            2,
            "{filter}: {log}"
        );
        assert_eq!(log.lines().count(), 1, "{filter}: only the address: {log}");
        assert!(log.contains(" WARN no admin exists yet"), "{log}");
    }
    let db = dir.path().join("json.db");
    let log = serve_briefly(&db, &["--log-format", "json"], &[("RUST_LOG", "off")]);
    assert_eq!(log.lines().count(), 1, "{log}");
    let line: Value = serde_json::from_str(&log).unwrap();
    assert_eq!(line["level"], "WARN");
    let url = line["setup_url"].as_str().unwrap();
    assert!(url.contains("/admin/setup?code="), "{url}");
    assert!(line["message"].as_str().unwrap().contains(url));
    run_json(
        &db,
        &[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--role",
            "admin",
            "--json",
        ],
    );
    let log = serve_briefly(&db, &[], &[("RUST_LOG", "off")]);
    assert!(log.is_empty(), "an admin exists: nothing to print: {log}");
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
