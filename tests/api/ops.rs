//! Running it as an appliance: request ids, metrics, readiness, the OpenAPI document and the
//! docs page, backups (live, scheduled) and restores, migrations of old and new files,
//! `config show`.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use serde_json::{Value, json};
use switchboard::ops::backup::Schedule;
use switchboard::store;

use crate::helpers::{eventually, spawn_app, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn count(db: &Path, table: &str) -> i64 {
    let c = Connection::open(db).unwrap();
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_answer_carries_a_request_id_and_a_plain_incoming_one_is_kept() {
    let app = spawn_app();
    let mut seen = HashSet::new();
    for path in ["/healthz", "/api/v1/leads", "/nowhere"] {
        let r = app.send("GET", path, &[], None);
        let id = r.header("x-request-id").expect("x-request-id").to_owned();
        assert!(id.len() >= 16, "{path}: {id}");
        assert!(seen.insert(id), "ids are unique");
    }
    let kept = app.send("GET", "/healthz", &[("x-request-id", "proxy-42.a")], None);
    assert_eq!(kept.header("x-request-id"), Some("proxy-42.a"));
    for (bad, why) in [
        ("has space", "a space could forge log fields"),
        (&"x".repeat(65)[..], "too long"),
    ] {
        let r = app.send("GET", "/healthz", &[("x-request-id", bad)], None);
        assert_ne!(r.header("x-request-id"), Some(bad), "{why}");
    }
}

#[test]
fn metrics_count_requests_by_route_auth_failures_and_cache_use() {
    let app = spawn_app();
    let token = app.admin_token();
    assert_eq!(
        app.post("/api/v1/leads", &token, &json!({"name": "Ada"}))
            .status,
        201
    );
    assert_eq!(app.get("/api/v1/leads", &token).status, 200);
    assert_eq!(app.get("/api/v1/leads", "sb_nope").status, 401);
    assert_eq!(app.get("/api/v1/jobs/abc", &token).status, 404);
    let m = app.send("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for needle in [
        r#"switchboard_http_requests_total{route="/api/v1/leads",status="201"} 1"#,
        r#"switchboard_http_requests_total{route="/api/v1/leads",status="200"} 1"#,
        r#"switchboard_http_requests_total{route="/api/v1/jobs/{id}",status="404"} 1"#,
        r#"switchboard_auth_failures_total{reason="invalid_token"} 1"#,
        r#"switchboard_http_request_duration_seconds_count{route="/api/v1/leads"} 3"#,
        "switchboard_token_cache_hit_ratio ",
        "switchboard_db_pool_waits_total ",
        r#"switchboard_webhook_deliveries{status="pending"} "#,
        "switchboard_rate_limited_total 0",
    ] {
        assert!(
            m.text.contains(needle),
            "missing `{needle}` in:\n{}",
            m.text
        );
    }
    // One miss (the first call), then hits: the ratio is a real number between 0 and 1.
    let ratio: f64 = m
        .text
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_token_cache_hit_ratio "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..1.0).contains(&ratio) && ratio > 0.0, "{ratio}");
    assert!(!m.text.contains(&token), "never a secret in metrics");
}

#[test]
fn readyz_reports_the_schema_version_the_binary_expects() {
    let app = spawn_app();
    let r = app.send("GET", "/readyz", &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["schema_version"], json!(*store::SCHEMA_VERSION));
}

#[test]
fn the_openapi_document_needs_no_token_and_covers_every_route_and_error() {
    let app = spawn_app();
    let r = app.send("GET", "/api/v1/openapi.json", &[], None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for res in ["leads", "jobs", "invoices", "appointments"] {
        let list = &paths[&format!("/api/v1/{res}")];
        assert_eq!(
            list["get"]["security"][0]["bearer"][0],
            format!("{res}:read")
        );
        assert_eq!(
            list["post"]["security"][1]["apiKey"][0],
            format!("{res}:write")
        );
        let item = &paths[&format!("/api/v1/{res}/{{id}}")];
        let patch = &item["patch"]["requestBody"]["content"];
        assert!(patch["application/merge-patch+json"].is_object(), "{res}");
        assert!(item["delete"]["responses"]["204"].is_object());
        assert!(paths[&format!("/api/v1/{res}/batch")]["post"].is_object());
        let params: Vec<&str> = list["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["limit", "cursor", "updated_since", "status"]);
    }
    assert!(paths["/api/v1/me"]["get"].is_object());
    assert_eq!(paths.len(), 4 * 3 + 2, "no route left out, none invented");
    let lead = &doc["components"]["schemas"]["LeadCreate"];
    assert_eq!(lead["required"], json!(["name"]));
    assert_eq!(lead["properties"]["name"]["maxLength"], 200);
    assert_eq!(
        lead["properties"]["status"]["enum"],
        json!(["new", "contacted", "quoted", "won", "lost", null])
    );
    let responses = &doc["components"]["responses"];
    assert_eq!(
        responses["Unauthorized"]["headers"]["WWW-Authenticate"]["required"],
        true
    );
    assert_eq!(
        responses["TooManyRequests"]["headers"]["Retry-After"]["required"],
        true
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(doc["x-scopes"].as_array().unwrap().len(), 8);
}

#[test]
fn the_document_names_every_code_the_api_answers_with() {
    let app = spawn_app();
    let doc = app.send("GET", "/api/v1/openapi.json", &[], None).json();
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].clone();
    let token = app.admin_token();
    let answers = [
        app.get("/api/v1/leads", "sb_bad"),
        app.send("GET", "/api/v1/leads", &[], None),
        app.get("/api/v1/leads?limit=0", &token),
        app.get("/api/v1/leads?cursor=zzz", &token),
        app.get("/api/v1/leads/99", &token),
        app.send("TRACE", "/api/v1/leads", &[], None),
    ];
    for a in answers {
        let code = a.code();
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }
}

#[test]
fn a_405_names_the_allowed_methods() {
    let app = spawn_app();
    for (path, allow) in [
        ("/api/v1/leads", "GET, POST"),
        ("/api/v1/leads/batch", "POST"),
        ("/api/v1/leads/7", "GET, PATCH, DELETE"),
        ("/api/v1/me", "GET"),
    ] {
        let r = app.send("PUT", path, &[], None);
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
        assert_eq!(r.code(), "method_not_allowed");
    }
}

#[test]
fn the_docs_page_renders_every_operation_with_a_curl_example() {
    let app = spawn_app();
    let r = app.send("GET", "/docs", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(!r.text.contains("<script"), "no scripts, no CDN");
    for needle in [
        "/api/v1/leads/{id}",
        "/api/v1/appointments/batch",
        "merge patch",
        &format!(
            "curl -H \"Authorization: Bearer $TOKEN\" {}/api/v1/me",
            app.address
        ),
        "-X POST -H &quot;Authorization: Bearer $TOKEN&quot;",
    ] {
        assert!(r.text.contains(needle), "missing `{needle}`");
    }
}

#[test]
fn a_backup_of_a_live_database_holds_every_write_acknowledged_before_it() {
    let app = spawn_app();
    let token = app.admin_token();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, address, token) = (stop.clone(), app.address.clone(), token.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 5_000 {
                let r = agent
                    .post(&format!("{address}/api/v1/leads"))
                    .header("authorization", &format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .send(br#"{"name":"load"}"#.as_slice())
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                n += 1;
            }
            n
        })
    };
    assert!(eventually(Duration::from_secs(10), || count(
        &app.db_path,
        "leads"
    ) >= 20));
    let before = count(&app.db_path, "leads");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = run(
        &app.db_path,
        &["backup", "--to", copy.to_str().unwrap(), "--json"],
    );
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], json!(*store::SCHEMA_VERSION));
    let in_copy = count(&copy, "leads");
    assert!(
        in_copy >= before && in_copy <= written,
        "copy {in_copy}, before {before}, written {written}"
    );
    let again = run(&app.db_path, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(count(&copy, "leads"), in_copy);
}

#[test]
fn restore_is_refused_under_a_running_server_and_replaces_the_database_after() {
    let app = spawn_app();
    let token = app.admin_token();
    app.post("/api/v1/leads", &token, &json!({"name": "kept"}));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("b.db");
    assert!(
        run(&app.db_path, &["backup", "--to", copy.to_str().unwrap()])
            .status
            .success()
    );
    app.post(
        "/api/v1/leads",
        &token,
        &json!({"name": "after the backup"}),
    );

    let refused = run(&app.db_path, &["restore", "--from", copy.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("server is using"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(count(&app.db_path, "leads"), 2, "nothing changed");

    let mut app = app;
    app.stop_server();
    let out = run(
        &app.db_path,
        &["restore", "--from", copy.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = report["previous_saved_as"].as_str().unwrap();
    assert_eq!(count(&app.db_path, "leads"), 1, "the backup's state");
    assert_eq!(
        count(Path::new(kept), "leads"),
        2,
        "the replaced file is kept"
    );
    let name: String = Connection::open(&app.db_path)
        .unwrap()
        .query_row("SELECT name FROM leads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "kept");
    assert!(run(&app.db_path, &["migrate"]).status.success());
}

#[test]
fn restore_refuses_files_that_are_damaged_foreign_or_too_new() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    assert!(run(&db, &["migrate"]).status.success());
    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"SQLite format 3\0 but then nonsense ".repeat(200),
    )
    .unwrap();
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    let newer = dir.path().join("newer.db");
    let c = Connection::open(&db).unwrap();
    store::ops::vacuum_into(&c, &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', '', '0')",
            [],
        )
        .unwrap();
    let cases = [
        (&garbage, "not a readable SQLite database", "damaged"),
        (&foreign, "not a Switchboard database", "foreign"),
        (&newer, "newer than this binary", "too new"),
        (&dir.path().join("absent.db"), "no backup file", "absent"),
    ];
    for (file, message, why) in cases {
        let out = run(&db, &["restore", "--from", file.to_str().unwrap()]);
        assert!(!out.status.success(), "{why}");
        assert!(stderr(&out).contains(message), "{why}: {}", stderr(&out));
        assert_eq!(stderr(&out).trim().lines().count(), 1, "one line");
    }
    assert_eq!(count(&db, "accounts"), 1, "the database is untouched");
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    assert!(run(&db, &["migrate"]).status.success());
    Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', '', '0')",
            [],
        )
        .unwrap();
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let out = run(&db, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("schema version 999, newer than this binary knows"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_database_made_by_the_first_schema_version_migrates_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let mut c = store::open_connection(&db).unwrap();
    store::migrate_to(&mut c, 1).unwrap();
    c.execute_batch(
        "INSERT INTO users (account_id, email, role, permissions, created_at, updated_at)
             VALUES (1, 'old@example.com', 'admin', 255, 0, 0);
         INSERT INTO leads (account_id, owner_id, name, status, created_at, updated_at)
             VALUES (1, 1, 'From V1', 'won', 1000, 1000);",
    )
    .unwrap();
    drop(c);
    let out = run(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = Connection::open(&db).unwrap();
    let version: i64 = c
        .query_row(
            "SELECT MAX(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, *store::SCHEMA_VERSION);
    let name: String = c
        .query_row("SELECT name FROM leads WHERE status = 'won'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "From V1");
    assert_eq!(count(&db, "users"), 1);
}

#[test]
fn a_second_server_on_the_same_database_is_refused() {
    let app = spawn_app();
    let out = run(&app.db_path, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("server is using"), "{}", stderr(&out));
}

#[test]
fn scheduled_backups_start_when_one_is_due_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for stamp in ["20000101T000000Z", "20000102T000000Z", "20000103T000000Z"] {
        let f = std::fs::File::create(backups.join(format!("switchboard-{stamp}.db"))).unwrap();
        f.set_modified(two_days_ago).unwrap();
    }
    std::fs::write(backups.join("notes.txt"), "not ours").unwrap();
    let schedule = Schedule {
        dir: backups.clone(),
        every: Duration::from_secs(86_400),
        keep: 2,
    };
    let app = spawn_app_with(move |s| s.backup = Some(schedule));
    let ok = eventually(Duration::from_secs(20), || {
        app.send("GET", "/metrics", &[], None)
            .text
            .contains(r#"switchboard_backups_total{outcome="ok"} 1"#)
    });
    assert!(ok, "a backup was due at start");
    let files = switchboard::ops::backup::list_backups(&backups);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("switchboard-20000103T000000Z.db"));
    assert_eq!(
        count(&files[1], "accounts"),
        1,
        "the new copy is a database"
    );
    assert!(
        backups.join("notes.txt").exists(),
        "other files are left alone"
    );
}

#[test]
fn config_show_prints_the_effective_settings_from_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nworkers = 3\nbackup_dir = \"/var/backups/sb\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "--config",
            file.to_str().unwrap(),
            "config",
            "show",
            "--json",
        ])
        .args(["--backup-keep", "3"])
        .env("SWITCHBOARD_WORKERS", "5")
        .env("SWITCHBOARD_DB", "/tmp/from-env.db")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["listen"], "0.0.0.0:9000", "file");
    assert_eq!(shown["workers"], 5, "env over file");
    assert_eq!(shown["db"], "/tmp/from-env.db");
    assert_eq!(shown["backup_keep"], 3, "flag");
    assert_eq!(shown["backup_every"], "1d", "default");
    for (args, message) in [
        (&["--backup-every", "12h"][..], "set backup_dir too"),
        (
            &["--backup-dir", "/x", "--backup-every", "soon"],
            "backup_every",
        ),
        (&["--backup-dir", "/x", "--backup-keep", "0"], "backup_keep"),
    ] {
        let out = Command::new(BIN)
            .args(["config", "show"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_request_log_has_one_json_line_per_request_with_its_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    assert!(
        run(
            &db,
            &["user", "add", "--email", "a@example.com", "--role", "admin"]
        )
        .status
        .success()
    );
    let created = run(
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
    let token = serde_json::from_slice::<Value>(&created.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    assert!(eventually(Duration::from_secs(20), || {
        agent.get(&format!("{base}/healthz")).call().is_ok()
    }));
    let r = agent
        .get(&format!("{base}/api/v1/leads?access_token={token}&limit=5"))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bad = agent
        .get(&format!("{base}/api/v1/leads"))
        .header("x-api-key", &format!("{token}x"))
        .call()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    // A log line is written after its answer: read until both are in (bounded), then stop.
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lines
        .iter()
        .filter(|l: &&String| l.contains("\"/api/v1/leads\""))
        .count()
        < 2
        && std::time::Instant::now() < deadline
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines.extend(rx.try_iter());
    let secret = &token[12..];
    for line in &lines {
        assert!(!line.contains(secret), "a secret was logged: {line}");
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let ours: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"] == "request" && v["path"] == "/api/v1/leads")
        .collect();
    assert_eq!(ours.len(), 2, "{lines:#?}");
    assert_eq!(ours[0]["status"], 200);
    assert_eq!(ours[1]["code"], "invalid_token");
    assert!(
        lines.iter().any(|l| l.contains(&id)),
        "the answer's X-Request-Id is in the log"
    );
}
