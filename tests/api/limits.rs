//! Rate limits per token, the failed-authentication limiter, exemptions.

use std::time::{Duration, Instant};

use switchboard::auth::rate_limit::Limit;
use switchboard::model::Role;

use crate::helpers::{ALL_SCOPES, eventually, spawn_app, spawn_app_with};

#[test]
fn every_answer_past_the_limiter_carries_the_ietf_fields() {
    let app = spawn_app_with(|s| {
        s.default_limit = Limit::parse_list(&["20/1s", "200/10s", "1000/1m"]).unwrap()
    });
    let t = app.admin_token();
    let r = app.get("/api/v1/leads", &t);
    assert_eq!(
        r.header("ratelimit-policy"),
        Some(r#""1s";q=20;w=1, "10s";q=200;w=10, "1m";q=1000;w=60"#)
    );
    assert_eq!(r.header("ratelimit"), Some(r#""1s";r=19;t=1"#));
    let err = app.get("/api/v1/leads/999", &t);
    assert_eq!(err.status, 404);
    assert!(
        err.header("ratelimit").is_some(),
        "errors after the limiter carry it too"
    );
}

#[test]
fn an_exhausted_window_answers_429_with_a_retry_after_that_lets_the_next_call_through() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.limits = Some(vec!["3/1s".into()])
    });
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/leads", &t).status, 200);
    }
    let r = app.get("/api/v1/leads", &t);
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("ratelimit").unwrap().contains("r=0"));
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        app.get("/api/v1/leads", &t).status,
        200,
        "honouring Retry-After is enough"
    );
}

#[test]
fn a_token_used_from_two_threads_stays_within_its_limits() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.limits = Some(vec!["10/10s".into()])
    });
    let started = Instant::now();
    let ok: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    (0..15)
                        .filter(|_| app.get("/api/v1/leads", &t).status == 200)
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // 10 at once, plus at most one more per second refilled while the test ran.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!(ok >= 10 && ok <= 10 + refilled, "{ok} calls passed");
}

#[test]
fn a_refusal_in_one_window_does_not_use_up_another() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.limits = Some(vec!["2/1s".into(), "100/1m".into()])
    });
    for _ in 0..20 {
        app.get("/api/v1/leads", &t);
    }
    // /me is limited too: poll until the 1 s window lets it through.
    let mut me = serde_json::Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        let r = app.get("/api/v1/me", &t);
        me = if r.status == 200 {
            r.json()
        } else {
            serde_json::Value::Null
        };
        r.status == 200
    }));
    let minute = me["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == "100/1m")
        .unwrap()
        .clone();
    assert!(minute["remaining"].as_u64().unwrap() >= 97, "{minute}");
}

#[test]
fn exempt_callers_are_not_limited() {
    let app = spawn_app_with(|s| s.rate_limit_exempt = vec!["127.0.0.0/8".parse().unwrap()]);
    app.add_user("a@example.com", Role::Admin);
    let t = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.limits = Some(vec!["1/1m".into()])
    });
    for _ in 0..5 {
        let r = app.get("/api/v1/leads", &t);
        assert_eq!(r.status, 200);
        assert!(r.header("ratelimit").is_none());
    }
}

#[test]
fn repeated_failed_authentications_block_the_address_before_any_credentials_are_checked() {
    let app = spawn_app_with(|s| {
        s.failed_auth_limit = Limit::parse("5/1m").unwrap();
        // So that a call can come from another address (`X-Forwarded-For`).
        s.trusted_proxy = vec!["127.0.0.1/32".parse().unwrap()];
    });
    let good = app.admin_token();
    let bad = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";
    let statuses: Vec<u16> = (0..8)
        .map(|_| app.get("/api/v1/leads", bad).status)
        .collect();
    assert_eq!(&statuses[..5], [401; 5]);
    assert_eq!(&statuses[5..], [429; 3]);
    let r = app.get("/api/v1/leads", bad);
    assert_eq!(r.code(), "rate_limited");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(
        app.send("GET", "/api/v1/leads", &[], None).status,
        429,
        "blocked addresses get 429 first"
    );
    // The right token too: a guesser refused on every miss would otherwise see its hit
    // (CONTRACT.md checks the address before the credentials).
    let right = app.get("/api/v1/leads", &good);
    assert_eq!((right.status, right.code()), (429, "rate_limited".into()));
    assert!(
        right.header("ratelimit").is_none(),
        "the token's limiter was not reached"
    );
    // Another address is not blocked.
    let elsewhere = app.send(
        "GET",
        "/api/v1/leads",
        &[
            ("authorization", &format!("Bearer {good}")),
            ("x-forwarded-for", "203.0.113.9"),
        ],
        None,
    );
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
}
