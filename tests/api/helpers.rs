//! The test harness: the real application on port 0 with a temporary database, typed helpers
//! to manage it the way the CLI does, and a small HTTP client.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use rusqlite::Connection;
use serde_json::Value;
use switchboard::activity::RecorderStats;
use switchboard::config::Settings;
use switchboard::manage::tokens::{Expiry, TokenInput};
use switchboard::manage::users::UserInput;
use switchboard::manage::{self, ManageError};
use switchboard::model::Role;
use switchboard::startup::Application;
use switchboard::store;
use ureq::http;

static TRACING: Once = Once::new();

/// Quiet logs unless `TEST_LOG=1`.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            switchboard::telemetry::init(switchboard::cli::LogFormat::Pretty, false);
        }
    });
}

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The database file.
    pub db_path: PathBuf,
    /// The first-run setup address the server printed, if the database had no admin.
    pub setup_url: Option<String>,
    handle: ServerHandle,
    recorder: Arc<RecorderStats>,
    thread: Option<JoinHandle<()>>,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names; the last value of each).
    pub headers: HashMap<String, String>,
    /// Body as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The problem+json `code`.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Starts the application with default settings.
pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

/// Starts the application after `tweak` adjusted its settings.
pub fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("test.db");
    let mut settings = Settings::for_db(&db_path);
    settings.listen = "127.0.0.1:0".into();
    settings.workers = 2;
    // Generous limits: tests that are about rate limits set their own.
    settings.default_limit =
        switchboard::auth::rate_limit::Limit::parse_list(&["100000/1s"]).unwrap();
    settings.maintenance_every = Duration::from_millis(200);
    tweak(&mut settings);
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).expect("application builds");
            let setup_url = app.setup_url().map(str::to_owned);
            tx.send((app.port(), app.handle(), app.recorder_stats(), setup_url))
                .expect("test alive");
            app.run_until_stopped().await.expect("server runs");
        });
    });
    let (port, handle, recorder, setup_url) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server started");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db_path,
        setup_url,
        handle,
        recorder,
        thread: Some(thread),
        agent,
        _dir: dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true)))
                .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl TestApp {
    /// Stops the server gracefully and waits for it, keeping the database file.
    pub fn stop_server(&mut self) {
        let handle = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true)))
                .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// A management change in its own `BEGIN IMMEDIATE` transaction, as the CLI makes it
    /// (it bumps the change generation a running server watches).
    pub fn manage<R>(&self, f: impl FnOnce(&Connection) -> Result<R, ManageError>) -> R {
        let mut conn = store::open_connection(&self.db_path).expect("open");
        store::with_management_tx(&mut conn, f).expect("management change")
    }

    /// Waits until every call recorded so far has been written (audit, usage, last-used).
    pub fn wait_for_flush(&self) {
        let target = self.recorder.recorded.load(Ordering::SeqCst);
        assert!(
            eventually(Duration::from_secs(10), || self
                .recorder
                .written
                .load(Ordering::SeqCst)
                >= target),
            "the recorder did not flush"
        );
    }

    /// The recorder's counters.
    pub fn recorder(&self) -> &RecorderStats {
        &self.recorder
    }

    /// A read-only look at the database.
    pub fn query<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> R {
        let conn = store::open_connection(&self.db_path).expect("open");
        f(&conn).expect("query")
    }

    /// Adds a user to the `default` account (all permissions).
    pub fn add_user(&self, email: &str, role: Role) {
        self.add_user_in(email, role, "default");
    }

    /// Adds a user to an account.
    pub fn add_user_in(&self, email: &str, role: Role, account: &str) {
        let input = UserInput {
            email: email.into(),
            name: None,
            role,
            account: account.into(),
            permissions: None,
            password: None,
        };
        self.manage(|c| manage::users::add(c, input));
    }

    /// Adds an active Pro account `name`, with `admin` as its admin: another business, for
    /// the tests that check one account never reaches another's.
    pub fn add_account_with_admin(&self, name: &str, admin: &str) {
        self.manage(|c| {
            manage::accounts::create(
                c,
                name,
                switchboard::model::Plan::Pro,
                switchboard::model::SubscriptionStatus::Active,
            )
        });
        self.add_user_in(admin, Role::Admin, name);
    }

    /// Creates a token for `email` with `scopes`; returns the plaintext.
    pub fn token_for(&self, email: &str, scopes: &[&str]) -> String {
        self.token_with(email, scopes, |_| {})
    }

    /// Creates a token after `tweak` adjusted the input.
    pub fn token_with(
        &self,
        email: &str,
        scopes: &[&str],
        tweak: impl FnOnce(&mut TokenInput),
    ) -> String {
        let mut input = TokenInput {
            user_email: email.into(),
            name: "test".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expiry: Expiry::Never,
            allow_ips: Vec::new(),
            limits: None,
        };
        tweak(&mut input);
        self.manage(|c| manage::tokens::create(c, input)).plaintext
    }

    /// An admin of the default account with a token holding every scope.
    pub fn admin_token(&self) -> String {
        let exists = self.query(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM users WHERE email = 'owner@example.com'",
                [],
                |r| r.get::<_, i64>(0),
            )
        });
        if exists == 0 {
            self.add_user("owner@example.com", Role::Admin);
        }
        self.token_for("owner@example.com", &ALL_SCOPES)
    }

    /// Sends a request with a method, path, headers and optional body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b.to_vec()).expect("request")),
            None => self.agent.run(req.body(()).expect("request")),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            text,
        }
    }

    /// Sends raw bytes as a request on a fresh connection (for what a client library refuses
    /// to send); returns the status code and the whole answer as text.
    pub fn raw(&self, request: &[u8]) -> (u16, String) {
        use std::io::{Read, Write};
        let addr = self.address.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }

    /// A counter or gauge from `/metrics`, by its name with labels (`name{label="x"}`).
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.send("GET", "/metrics", &[], None).text;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    }

    /// `GET` with a bearer token.
    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.send(
            "GET",
            path,
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    }

    /// A JSON request with a bearer token.
    pub fn json(&self, method: &str, path: &str, token: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {token}");
        let bytes = serde_json::to_vec(body).expect("json");
        self.send(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(&bytes),
        )
    }

    /// `POST` JSON with a bearer token.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.json("POST", path, token, body)
    }

    /// `PATCH` JSON with a bearer token.
    pub fn patch(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.json("PATCH", path, token, body)
    }

    /// `DELETE` with a bearer token.
    pub fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(
            "DELETE",
            path,
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    }
}

/// Every scope.
pub const ALL_SCOPES: [&str; 8] = [
    "leads:read",
    "leads:write",
    "jobs:read",
    "jobs:write",
    "invoices:read",
    "invoices:write",
    "appointments:read",
    "appointments:write",
];

/// Polls `check` until it holds or `limit` passes; for propagation deadlines, never a fixed sleep.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}
