//! The promise of the outbox, tested on the real binary: deliveries queued while the receiver
//! is down survive a SIGKILL and all arrive after the restart, with their original ids.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use switchboard::manage::tokens::{Expiry, TokenInput};
use switchboard::manage::users::UserInput;
use switchboard::manage::{self, ManageError};
use switchboard::model::Role;
use switchboard::store;

use crate::helpers::{ALL_SCOPES, eventually};
use crate::receiver::{Answer, Receiver};

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn manage<R>(
    db: &Path,
    f: impl FnOnce(&rusqlite::Connection) -> Result<R, ManageError>,
) -> R {
    let mut conn = store::open_connection(db).unwrap();
    store::migrate(&mut conn).unwrap();
    store::with_management_tx(&mut conn, f).unwrap()
}

fn serve(db: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--db", db.to_str().unwrap(), "serve"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE", ["1s"; 20].join(","))
        .env("SWITCHBOARD_WEBHOOK_TIMEOUT", "2s")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn wait_healthy(agent: &ureq::Agent, base: &str) {
    assert!(
        eventually(Duration::from_secs(30), || agent
            .get(format!("{base}/healthz"))
            .call()
            .is_ok_and(|r| r.status() == 200)),
        "the server did not come up"
    );
}

#[test]
fn deliveries_queued_before_a_sigkill_all_arrive_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let hook_port = free_port(); // nothing listens there yet: the receiver is down
    let token = owner_token(&db, None);
    let url = format!("http://127.0.0.1:{hook_port}/hook");
    let secret = manage(&db, |c| {
        manage::webhooks::add(c, "default", &url, &["lead.created".into()], None)
    })
    .endpoint
    .secret;
    assert!(secret.starts_with("whsec_"));

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let agent = agent();
    let mut child = serve(&db, port);
    wait_healthy(&agent, &base);
    let mut ids = BTreeSet::new();
    for i in 0..20 {
        let mut r = agent
            .post(format!("{base}/api/v1/leads"))
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(json!({ "name": format!("Lead {i}") }).to_string())
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        ids.insert(v["id"].as_i64().unwrap());
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Each create's event is in the outbox, whether the worker had made its delivery yet or
    // not (it makes them after the commit, `store::fanout`), and none was delivered.
    let queued: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM webhook_events e WHERE NOT EXISTS \
               (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'delivered')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        queued, 20,
        "the receiver was down: nothing could be delivered"
    );

    let rx = Receiver::on(TcpListener::bind(("127.0.0.1", hook_port)).unwrap(), |_| {
        Answer::status(200)
    });
    let mut child = serve(&db, port);
    let arrived = eventually(Duration::from_secs(30), || {
        let got: BTreeSet<i64> = rx
            .received()
            .iter()
            .map(|r| r.json()["data"]["id"].as_i64().unwrap())
            .collect();
        got == ids
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(arrived, "only {} of 20 deliveries arrived", rx.count());
    // Every message id is one the outbox assigned before the crash.
    let stored: BTreeSet<String> = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn.prepare("SELECT msg_id FROM webhook_events").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(stored.len(), 20);
    for r in rx.received() {
        assert!(stored.contains(r.header("webhook-id")));
    }
}

/// Adds the admin `owner@example.com` to the default account and gives them a token with
/// every scope (and these limits); returns its plaintext.
pub(crate) fn owner_token(db: &Path, limits: Option<Vec<String>>) -> String {
    manage(db, |c| {
        manage::users::add(
            c,
            UserInput {
                email: "owner@example.com".into(),
                name: None,
                role: Role::Admin,
                account: "default".into(),
                permissions: None,
                password: None,
            },
        )
    });
    manage(db, |c| {
        manage::tokens::create(
            c,
            TokenInput {
                user_email: "owner@example.com".into(),
                name: "owner".into(),
                scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                expiry: Expiry::Never,
                allow_ips: Vec::new(),
                limits,
            },
        )
    })
    .plaintext
}

/// Creates the owner, a token and an endpoint for `hook_url`; returns the token.
fn prepare(db: &Path, hook_url: &str) -> String {
    let token = owner_token(db, Some(vec!["100000/1s".into()]));
    manage(db, |c| {
        manage::webhooks::add(c, "default", hook_url, &["lead.created".into()], None)
    });
    token
}

#[test]
fn every_acknowledged_write_survives_repeated_sigkills_under_load_and_is_delivered() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill-loop.db");
    let rx = Receiver::ok();
    let token = prepare(&db, &rx.url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let acked: Mutex<Vec<(i64, String)>> = Mutex::new(Vec::new());
    let done = AtomicBool::new(false);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut next_delay = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        Duration::from_millis(150 + (seed >> 33) % 600)
    };
    std::thread::scope(|s| {
        for w in 0..4 {
            let (acked, done, token, base) = (&acked, &done, &token, &base);
            s.spawn(move || {
                let agent = agent();
                let mut n = 0;
                while !done.load(Ordering::SeqCst) {
                    n += 1;
                    let name = format!("writer {w} lead {n}");
                    let sent = agent
                        .post(format!("{base}/api/v1/leads"))
                        .header("authorization", &format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .send(json!({ "name": name }).to_string());
                    match sent {
                        Ok(mut r) if r.status() == 201 => {
                            let v: serde_json::Value =
                                serde_json::from_str(&r.body_mut().read_to_string().unwrap())
                                    .unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push((v["id"].as_i64().unwrap(), name));
                        }
                        // Refused connections and cut answers while the server is down: not acknowledged.
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        let agent = agent();
        for _ in 0..4 {
            let mut child = serve(&db, port);
            wait_healthy(&agent, &base);
            std::thread::sleep(next_delay());
            child.kill().unwrap(); // SIGKILL, at a random point of the write stream
            child.wait().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() > 20,
        "the load ran ({} writes acknowledged)",
        acked.len()
    );

    let mut child = serve(&db, port);
    wait_healthy(&agent(), &base);
    let conn = rusqlite::Connection::open(&db).unwrap();
    for (id, name) in &acked {
        let copies: i64 = conn
            .query_row("SELECT COUNT(*) FROM leads WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(copies, 1, "{name} stored {copies} times");
        let stored: String = conn
            .query_row("SELECT name FROM leads WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(&stored, name);
    }
    let want: BTreeSet<i64> = acked.iter().map(|(id, _)| *id).collect();
    let delivered = || -> BTreeSet<i64> {
        rx.received()
            .iter()
            .map(|r| r.json()["data"]["id"].as_i64().unwrap())
            .collect()
    };
    let all = eventually(Duration::from_secs(60), || want.is_subset(&delivered()));
    let _ = child.kill();
    let _ = child.wait();
    let missing: Vec<_> = want.difference(&delivered()).copied().collect();
    assert!(
        all,
        "{} acknowledged leads never delivered: {missing:?}",
        missing.len()
    );
}
