//! API8: safe headers on every answer, and error bodies that reveal no internals.

use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn api_answers_are_never_cached_or_sniffed() {
    let app = spawn_app();
    let t = app.admin_token();
    for r in [
        app.get("/api/v1/leads", &t),
        app.get("/api/v1/leads/999", &t),
        app.send("GET", "/api/v1/leads", &[], None),
    ] {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{}", r.status);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.header("server")
                .is_none_or(|s| !s.chars().any(|c| c.is_ascii_digit())),
            "no version banner"
        );
    }
}

#[test]
fn error_bodies_are_problem_json_without_internals() {
    let app = spawn_app();
    let t = app.admin_token();
    let auth = format!("Bearer {t}");
    let answers = [
        app.send(
            "POST",
            "/api/v1/leads",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(b"{\"name\": \x01}"),
        ),
        app.post(
            "/api/v1/jobs",
            &t,
            &json!({"title": "t", "lead_id": 999_999}),
        ),
        app.get("/api/v1/leads?cursor=%00%01", &t),
        app.get("/api/v1/leads/1", &t),
        app.send(
            "GET",
            "/api/v1/leads",
            &[("authorization", "Bearer sb_<script>alert(1)</script>")],
            None,
        ),
    ];
    for r in answers {
        assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let body = r.json();
        for key in ["type", "title", "status", "detail", "code"] {
            assert!(body.get(key).is_some(), "{key} missing: {body}");
        }
        let lower = r.text.to_lowercase();
        for leak in [
            "sqlite",
            "rusqlite",
            "panicked",
            "src/",
            ".rs:",
            "backtrace",
            "select ",
            "stack",
        ] {
            assert!(!lower.contains(leak), "{leak} in {}", r.text);
        }
    }
}
