//! Request ids, the request log, metrics and readiness.

use super::*;

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
    // A few more lookups: the token's creation empties the cache once the server notices it
    // (within 100 ms), which may fall between the calls above and turn their hit into a miss.
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/me", &token).status, 200);
    }
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
        "switchboard_db_inline_reads_moved_total ",
        "switchboard_db_read_snapshots_total ",
        "switchboard_db_read_snapshots_held ",
        "switchboard_db_writer_commits_total ",
        "switchboard_db_writer_writes_total ",
        "switchboard_db_writer_queued ",
        "switchboard_db_writer_busy_seconds_total ",
        "switchboard_db_writer_commit_seconds_total ",
        "switchboard_db_writer_crowded_commits_total ",
        // The WAL: its length and file, and the checkpointer that keeps it bounded.
        "switchboard_wal_frames ",
        "switchboard_wal_file_bytes ",
        "switchboard_wal_restarts_total ",
        "switchboard_wal_checkpoint_passes_total ",
        "switchboard_wal_checkpoint_seconds_total ",
        "switchboard_wal_restarts_asked_total ",
        r#"switchboard_webhook_deliveries{status="pending"} "#,
        r#"switchboard_webhook_attempts_total{lane="steady"} "#,
        r#"switchboard_webhook_attempts_total{lane="yielding"} "#,
        "switchboard_rate_limited_total 0",
        // Memory: what a soak watches to tell a leak from caches filling up.
        "switchboard_resident_memory_bytes ",
        r#"switchboard_cache_entries{cache="token"} "#,
        r#"switchboard_cache_capacity{cache="token"} 10000"#,
        r#"switchboard_cache_capacity{cache="unknown_token"} 20000"#,
        r#"switchboard_cache_entries{cache="failed_auth"} "#,
        "switchboard_call_records_queued ",
        "switchboard_call_records_queue_capacity 50000",
        "switchboard_call_records_dropped_total 0",
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
    // The lead above went through the WAL, whose file is then on disk.
    let value = |name: &str| -> f64 {
        m.text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("switchboard_wal_frames") >= 1.0);
    assert!(value("switchboard_wal_file_bytes") > 0.0);
    assert!(!m.text.contains(&token), "never a secret in metrics");
}

#[test]
fn the_operations_pages_answer_head_and_name_their_methods_to_others() {
    let app = spawn_app();
    for path in ["/healthz", "/readyz", "/metrics", "/docs"] {
        let get = app.send("GET", path, &[], None);
        assert_eq!(get.status, 200, "{path}");
        // What uptime monitors send: the same answer without its body.
        let head = app.send("HEAD", path, &[], None);
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(head.text, "", "HEAD {path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
        for method in ["POST", "PUT", "DELETE"] {
            let r = app.send(method, path, &[], None);
            assert_eq!(
                (r.status, r.code()),
                (405, "method_not_allowed".into()),
                "{method} {path}"
            );
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
}

#[test]
fn readyz_reports_the_schema_version_the_binary_expects() {
    let app = spawn_app();
    let r = app.send("GET", "/readyz", &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["schema_version"], json!(*store::SCHEMA_VERSION));
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
