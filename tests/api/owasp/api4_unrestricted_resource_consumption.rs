//! API4: every input is bounded: body size, page size, nesting, string length, headers, and
//! slow clients.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn oversized_bodies_pages_nesting_and_strings_are_refused() {
    let app = spawn_app();
    let t = app.admin_token();
    let auth = format!("Bearer {t}");
    let huge = vec![b' '; 10 * 1024 * 1024];
    let r = app.send(
        "POST",
        "/api/v1/leads",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(&huge),
    );
    assert_eq!(r.code(), "payload_too_large");
    assert_eq!(
        app.get("/api/v1/leads?limit=100000", &t).code(),
        "validation_failed"
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = app.send(
        "POST",
        "/api/v1/leads",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(deep.as_bytes()),
    );
    assert_eq!(
        r.status, 413,
        "deeply nested bodies are bounded by size first"
    );
    let nested = format!(r#"{{"name": {}1{}}}"#, "[".repeat(1_000), "]".repeat(1_000));
    let r = app.send(
        "POST",
        "/api/v1/leads",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(nested.as_bytes()),
    );
    assert_eq!(
        r.code(),
        "invalid_json",
        "the parser's recursion limit holds: {}",
        r.text
    );
    let long = app.post("/api/v1/leads", &t, &json!({"name": "x".repeat(201)}));
    assert_eq!(long.code(), "validation_failed");
    let batch: Vec<_> = (0..501).map(|_| json!({"name": "x"})).collect();
    assert_eq!(
        app.post("/api/v1/leads/batch", &t, &json!({"records": batch}))
            .code(),
        "validation_failed"
    );
}

#[test]
fn a_flood_of_headers_is_refused_before_the_application() {
    let app = spawn_app();
    let mut req = String::from("GET /api/v1/leads HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for i in 0..200 {
        req.push_str(&format!("X-Filler-{i}: {}\r\n", "y".repeat(100)));
    }
    req.push_str("\r\n");
    let (status, _) = app.raw(req.as_bytes());
    assert!(matches!(status, 400 | 431), "{status}");
}

#[test]
fn a_body_trickled_slowly_is_cut_off_with_408() {
    let app = spawn_app();
    let t = app.admin_token();
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /api/v1/leads HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\""
    );
    s.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Keep trickling a byte a second until the server answers.
    loop {
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {
                if started.elapsed() > Duration::from_secs(25) || s.write_all(b" ").is_err() {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"));
    assert!(started.elapsed() < Duration::from_secs(20));
}
