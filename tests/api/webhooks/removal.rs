//! Removing an endpoint while attempts to it are in flight, on the real binary (its log is
//! what is checked): the attempts' outcomes have nothing left to belong to, which is no error,
//! and delivery to the other endpoints goes on.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver as Lines;

use serde_json::{Value, json};
use switchboard::manage;

use super::*;
use crate::crash::{free_port, manage, owner_token};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn add_endpoint(db: &Path, url: &str) -> EndpointId {
    manage(db, |c| {
        manage::webhooks::add(c, "default", url, &["lead.created".into()], None)
    })
    .endpoint
    .id
}

/// A server whose JSON log lines arrive on a channel; killed when dropped.
struct Server {
    child: Child,
    lines: Lines<String>,
    seen: Vec<Value>,
}

impl Server {
    fn start(db: &Path, port: u16) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "--db",
                db.to_str().unwrap(),
                "--log-format",
                "json",
                "serve",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("SWITCHBOARD_WEBHOOK_TIMEOUT", "30s")
            // The line each unrecorded attempt leaves is a debug line.
            .env("RUST_LOG", "info,switchboard::webhooks=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The lines logged so far.
    fn log(&mut self) -> &[Value] {
        for line in self.lines.try_iter() {
            let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            self.seen.push(v);
        }
        &self.seen
    }

    fn count(&mut self, message: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l["message"] == message)
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn removing_an_endpoint_with_attempts_in_flight_logs_no_error_and_delivery_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("remove.db");
    // Holds every request until released: the attempts stay in flight meanwhile.
    let released = Arc::new(AtomicBool::new(false));
    let held = {
        let released = released.clone();
        Receiver::scripted(move |_| {
            while !released.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            Answer::status(200)
        })
    };
    let other = Receiver::ok();
    let token = owner_token(&db, None);
    let doomed = add_endpoint(&db, &held.url);
    add_endpoint(&db, &other.url);
    let port = free_port();
    let mut server = Server::start(&db, port);
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    assert!(eventually(Duration::from_secs(30), || agent
        .get(format!("{base}/healthz"))
        .call()
        .is_ok()));
    let post_lead = |name: &str| {
        let r = agent
            .post(format!("{base}/api/v1/leads"))
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(json!({ "name": name }).to_string())
            .unwrap();
        assert_eq!(r.status(), 201);
    };
    for i in 0..4 {
        post_lead(&format!("Lead {i}"));
    }
    assert!(eventually(WAIT, || held.count() >= 1 && other.count() == 4));

    let removed = Command::new(BIN)
        .args(["--db", db.to_str().unwrap(), "webhook", "remove"])
        .arg(doomed.to_string())
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    released.store(true, Ordering::SeqCst);
    // Every attempt that reached the receiver was in flight at the removal, and leaves one
    // line saying it was not recorded.
    let unrecorded = "webhook attempt not recorded: its endpoint was removed meanwhile";
    let settled = eventually(WAIT, || server.count(unrecorded) == held.count());
    let errors: Vec<Value> = server
        .log()
        .iter()
        .filter(|l| l["level"] == "ERROR" || l["level"] == "WARN")
        .cloned()
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(settled, "{:#?}", server.log());

    // The worker goes on: the next event reaches the endpoint that is left, and only it.
    let before = held.count();
    post_lead("After the removal");
    assert!(eventually(WAIT, || other.count() == 5));
    assert_eq!(held.count(), before);
    let errors = server
        .log()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .count();
    assert_eq!(errors, 0, "{:#?}", server.log());
}
