//! Serving: health, stopping on signals, and what the server logs (the setup address, no secret).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{BIN, run_json};
use crate::helpers::eventually;

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
