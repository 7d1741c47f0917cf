//! Property tests against the running server: whatever arrives, the answer is a 2xx or a 4xx,
//! never a 5xx or a hang, and a refused write stores nothing.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use switchboard::auth::rate_limit::Limit;

use crate::helpers::spawn_app_with;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("new"),
            Just("won"),
            Just("a@example.com"),
            Just("2026-01-01T00:00:00Z")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("email".to_owned()),
                    Just("status".to_owned()),
                    Just("notes".to_owned()),
                    Just("id".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn any_authorization_header_gets_401_or_success_never_a_5xx() {
    let app = spawn_app_with(|s| s.failed_auth_limit = Limit::parse("1000000/1s").unwrap());
    let good = app.admin_token();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop_oneof![
        prop::collection::vec(
            any::<u8>().prop_filter("no line breaks", |b| *b != b'\r' && *b != b'\n'),
            0..120
        ),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        "(?i)bearer [ -~]{0,80}".prop_map(String::into_bytes),
        Just(format!("Bearer {good}").into_bytes()),
        "sb_[0-9A-Za-z]{8}_[0-9A-Za-z]{48}".prop_map(|t| format!("Bearer {t}").into_bytes()),
    ];
    runner
        .run(&strategy, |header| {
            let mut req =
                b"GET /api/v1/leads HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: "
                    .to_vec();
            req.extend_from_slice(&header);
            req.extend_from_slice(b"\r\n\r\n");
            let (status, text) = app.raw(&req);
            // 400 is actix-http refusing a malformed head before any application code runs.
            prop_assert!(matches!(status, 200 | 400 | 401), "{header:?} -> {text}");
            if status == 401 {
                prop_assert!(text.contains("application/problem+json"));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_json_body_gets_a_2xx_or_4xx_and_a_4xx_stores_nothing() {
    let app = spawn_app_with(|_| {});
    let token = app.admin_token();
    let count =
        || app.query(|c| c.query_row("SELECT COUNT(*) FROM leads", [], |r| r.get::<_, i64>(0)));
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arbitrary_json(), |body| {
            let before = count();
            let r = app.post("/api/v1/leads", &token, &body);
            prop_assert!(
                r.status == 201 || (400..500).contains(&r.status),
                "{body} -> {} {}",
                r.status,
                r.text
            );
            let after = count();
            if r.status == 201 {
                prop_assert_eq!(after, before + 1);
            } else {
                prop_assert_eq!(after, before, "a refused body stored something: {}", body);
                prop_assert!(r.json()["code"].is_string());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_patch_body_leaves_a_record_valid_or_untouched() {
    let app = spawn_app_with(|_| {});
    let token = app.admin_token();
    let created = app
        .post("/api/v1/leads", &token, &serde_json::json!({"name": "Ada"}))
        .json();
    let path = format!("/api/v1/leads/{}", created["id"]);
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arbitrary_json(), |body| {
            let before = app.get(&path, &token).json();
            let r = app.patch(&path, &token, &body);
            prop_assert!(
                r.status == 200 || (400..500).contains(&r.status),
                "{body} -> {} {}",
                r.status,
                r.text
            );
            let after = app.get(&path, &token).json();
            if r.status != 200 {
                prop_assert_eq!(&after, &before);
            }
            prop_assert!(
                after["name"].as_str().is_some_and(|n| !n.is_empty()),
                "name stays required"
            );
            Ok(())
        })
        .unwrap();
}
