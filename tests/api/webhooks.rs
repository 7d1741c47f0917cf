//! Webhook delivery end to end: a real receiver in the test process, signatures checked
//! independently, retries, timeouts, slow and gone endpoints, redirects, pausing, replay and
//! the outbound address policy.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use switchboard::config::Settings;
use switchboard::manage;
use switchboard::manage::views::DeliveryView;
use switchboard::model::EndpointId;
use switchboard::store::{self, fanout};

use crate::helpers::{TestApp, eventually, spawn_app_with};
use crate::receiver::{Answer, Received, Receiver};

mod address_policy;
mod connections;
#[cfg(target_os = "linux")]
mod priority;
mod removal;
mod sharing;
mod upkeep;

pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// Quick retries and timeouts, so tests wait milliseconds where production waits minutes.
pub(crate) fn fast(s: &mut Settings) {
    s.webhooks.retry_schedule = vec![Duration::from_millis(100); 5];
    s.webhooks.timeout = Duration::from_secs(5);
    s.webhooks.scan_interval = Duration::from_millis(100);
}

pub(crate) fn app() -> TestApp {
    spawn_app_with(fast)
}

/// Adds an endpoint for `events`; returns its id and secret.
pub(crate) fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> (EndpointId, String) {
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    let added = app.manage(|c| manage::webhooks::add(c, "default", url, &events, None));
    (added.endpoint.id, added.endpoint.secret)
}

/// An endpoint's deliveries as `webhook deliveries` lists them: after making those of the
/// events the server has not made them for yet (`store::fanout`).
pub(crate) fn deliveries(app: &TestApp, id: EndpointId) -> Vec<DeliveryView> {
    let mut conn = store::open_connection(&app.db_path).expect("open");
    store::with_write_tx(&mut conn, |c| {
        fanout::fan_out_all(c, switchboard::clock::now_ms())?;
        Ok::<_, manage::ManageError>(
            manage::webhooks::list_deliveries(c, None, Some(id), None, 100).expect("list"),
        )
    })
    .expect("fan out and list")
}

pub(crate) fn post_lead(app: &TestApp, token: &str, name: &str) -> i64 {
    let r = app.post("/api/v1/leads", token, &json!({ "name": name }));
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_i64().unwrap()
}

/// The Standard Webhooks check, written out here rather than borrowed from the server.
pub(crate) fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(r.header("webhook-id").as_bytes());
    mac.update(b".");
    mac.update(r.header("webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

#[test]
fn a_new_lead_is_delivered_signed_within_moments_of_the_commit() {
    let app = app();
    let rx = Receiver::ok();
    let (_, secret) = endpoint(&app, &rx.url, &["lead.created"]);
    let token = app.admin_token();
    let posted = Instant::now();
    let id = post_lead(&app, &token, "Grace Hopper");
    let acknowledged = Instant::now();
    assert!(eventually(WAIT, || rx.count() == 1));
    let got = &rx.received()[0];
    eprintln!(
        "delivery latency: {:?} after the 201, {:?} after the POST began",
        got.at.duration_since(acknowledged),
        got.at.duration_since(posted)
    );
    assert!(verify(&secret, got), "signature must verify: {got:?}");
    let body = got.json();
    assert_eq!(body["type"], "lead.created");
    assert_eq!(body["data"]["id"], id);
    assert_eq!(body["data"]["name"], "Grace Hopper");
    assert!(got.header("webhook-id").starts_with("msg_"));
    let ts: i64 = got.header("webhook-timestamp").parse().unwrap();
    assert!((ts - switchboard::clock::now_ms() / 1000).abs() < 60);
    assert!(got.header("user-agent").starts_with("Switchboard/"));
    assert_eq!(got.header("content-type"), "application/json");
}

#[test]
fn every_change_of_every_resource_fires_its_event_to_subscribers_only() {
    let app = app();
    let token = app.admin_token(); // before the endpoints: its token.created goes nowhere
    let all = Receiver::ok();
    let leads_only = Receiver::ok();
    endpoint(&app, &all.url, &["*"]);
    endpoint(&app, &leads_only.url, &["lead.created"]);
    let created = app
        .post("/api/v1/jobs", &token, &json!({"title": "Boiler"}))
        .json();
    let job = created["id"].as_i64().unwrap();
    let patched = app
        .patch(
            &format!("/api/v1/jobs/{job}"),
            &token,
            &json!({"status": "done"}),
        )
        .json();
    app.delete(&format!("/api/v1/jobs/{job}"), &token);
    post_lead(&app, &token, "Ada");
    assert!(eventually(WAIT, || all.count() == 4));
    let mut types: Vec<String> = all
        .received()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["job.created", "job.deleted", "job.updated", "lead.created"]
    );
    // An event carries the record as the API answered it; a deletion, its last state.
    for r in all.received() {
        let body = r.json();
        let expected = match body["type"].as_str().unwrap() {
            "job.created" => &created,
            "job.updated" | "job.deleted" => &patched,
            _ => continue,
        };
        assert_eq!(&body["data"], expected, "{}", body["type"]);
    }
    assert!(eventually(WAIT, || leads_only.count() == 1));
    assert_eq!(leads_only.received()[0].json()["type"], "lead.created");
}

#[test]
fn a_500_is_retried_with_the_same_webhook_id_and_every_attempt_is_recorded() {
    let app = app();
    let rx = Receiver::scripted(|n| Answer::status(if n < 2 { 500 } else { 204 }));
    let (ep, secret) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Retry me");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].status == "delivered"));
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| verify(&secret, r)));
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == got[0].header("webhook-id"))
    );
    let d = &deliveries(&app, ep)[0];
    assert_eq!(d.attempts, 3);
    assert_eq!(d.last_status, Some(204));
    let attempts =
        app.query(|c| Ok(manage::webhooks::delivery_attempts(c, d.id).expect("attempts")));
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(204)]);
}

#[test]
fn a_timed_out_attempt_is_retried_with_the_same_webhook_id() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.timeout = Duration::from_millis(500);
    });
    let rx = Receiver::scripted(|n| {
        Answer::status(200).after(if n == 0 {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        })
    });
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Slowpoke");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].status == "delivered"));
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    let d = &deliveries(&app, ep)[0];
    let attempts = app.query(|c| Ok(manage::webhooks::delivery_attempts(c, d.id).unwrap()));
    assert_eq!(attempts[0].error.as_deref(), Some("timed out"));
}

#[test]
fn a_slow_endpoint_does_not_delay_another() {
    let app = app();
    let slow = Receiver::scripted(|_| Answer::status(200).after(Duration::from_secs(4)));
    let quick = Receiver::ok();
    endpoint(&app, &slow.url, &["lead.created"]);
    endpoint(&app, &quick.url, &["lead.created"]);
    let token = app.admin_token();
    let start = Instant::now();
    for i in 0..6 {
        post_lead(&app, &token, &format!("Lead {i}"));
    }
    assert!(eventually(WAIT, || quick.count() == 6));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the quick endpoint waited {:?} behind the slow one",
        start.elapsed()
    );
}

#[test]
fn a_410_disables_the_endpoint_and_later_deliveries_wait_paused_until_it_is_enabled() {
    let app = app();
    let rx = Receiver::scripted(|n| Answer::status(if n == 0 { 410 } else { 200 }));
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    let token = app.admin_token();
    post_lead(&app, &token, "First");
    assert!(eventually(WAIT, || {
        app.query(|c| {
            Ok(manage::webhooks::require(c, ep)
                .map(|e| !e.enabled)
                .unwrap())
        })
    }));
    let e = app.query(|c| Ok(manage::webhooks::require(c, ep).unwrap()));
    assert!(e.disabled_reason.unwrap().contains("410"));
    post_lead(&app, &token, "Second");
    let list = deliveries(&app, ep);
    assert!(list.iter().all(|d| d.status == "paused"), "{list:?}");
    assert_eq!(rx.count(), 1, "nothing goes out while disabled");

    app.manage(|c| manage::webhooks::set_enabled(c, ep, true));
    assert!(eventually(WAIT, || rx.count() == 3));
    assert!(eventually(WAIT, || deliveries(&app, ep)
        .iter()
        .all(|d| d.status == "delivered")));
}

#[test]
fn a_redirect_is_a_failure_and_is_not_followed() {
    let app = app();
    let elsewhere = Receiver::ok();
    let target = elsewhere.url.clone();
    let rx = Receiver::scripted(move |_| Answer::status(302).with_header("location", &target));
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Redirected");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].attempts >= 1));
    let d = &deliveries(&app, ep)[0];
    assert_eq!(d.last_status, Some(302));
    assert!(d.last_error.as_deref().unwrap().contains("redirect"));
    assert_ne!(d.status, "delivered");
    assert_eq!(elsewhere.count(), 0);
}

#[test]
fn after_the_last_retry_a_delivery_is_dead_and_a_replay_sends_it_again_with_the_same_id() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.retry_schedule = vec![Duration::from_millis(50); 2];
    });
    let rx = Receiver::scripted(|n| Answer::status(if n < 3 { 503 } else { 200 }));
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Doomed");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].status == "dead"));
    assert_eq!(rx.count(), 3);
    let d = &deliveries(&app, ep)[0];
    let replayed = app.manage(|c| manage::webhooks::replay(c, d.id));
    assert_eq!(replayed.status, "pending");
    assert_eq!(replayed.webhook_id, d.webhook_id);
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].status == "delivered"));
    let got = rx.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].header("webhook-id"), d.webhook_id);
}

#[test]
fn retry_after_on_a_503_is_honoured() {
    let app = app();
    let rx = Receiver::scripted(|n| {
        if n == 0 {
            Answer::status(503).with_header("retry-after", "30")
        } else {
            Answer::status(200)
        }
    });
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Later");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].status == "failed"));
    let next = app.query(|c| {
        c.query_row(
            "SELECT next_attempt_at - updated_at FROM webhook_deliveries",
            [],
            |r| r.get::<_, i64>(0),
        )
    });
    assert!(next >= 29_000, "retry in {next} ms despite Retry-After: 30");
}

#[test]
fn a_rotated_secret_signs_with_both_secrets() {
    let app = app();
    let rx = Receiver::ok();
    let (ep, old) = endpoint(&app, &rx.url, &["lead.created"]);
    let new = app
        .manage(|c| manage::webhooks::rotate_secret(c, ep))
        .secret;
    assert_ne!(old, new);
    post_lead(&app, &app.admin_token(), "Rotated");
    assert!(eventually(WAIT, || rx.count() == 1));
    let got = &rx.received()[0];
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert!(verify(&old, got) && verify(&new, got));
}

#[test]
fn a_test_delivery_goes_to_that_endpoint_only() {
    let app = app();
    let one = Receiver::ok();
    let other = Receiver::ok();
    let (ep, secret) = endpoint(&app, &one.url, &["*"]);
    endpoint(&app, &other.url, &["*"]);
    let d = app.manage(|c| manage::webhooks::send_test(c, ep));
    assert_eq!(d.event_type, "webhook.test");
    assert!(eventually(WAIT, || one.count() == 1));
    assert!(verify(&secret, &one.received()[0]));
    assert_eq!(other.count(), 0);
}

#[test]
fn a_batch_fires_one_delivery_per_record_and_all_arrive() {
    let app = app();
    let rx = Receiver::ok();
    endpoint(&app, &rx.url, &["lead.created"]);
    let records: Vec<_> = (0..500)
        .map(|i| json!({ "name": format!("L{i}") }))
        .collect();
    let r = app.post(
        "/api/v1/leads/batch",
        &app.admin_token(),
        &json!({ "records": records }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let committed = Instant::now();
    assert!(eventually(Duration::from_secs(60), || rx.count() == 500));
    eprintln!(
        "500 deliveries to one local endpoint in {:?}",
        committed.elapsed()
    );
    let mut ids: Vec<i64> = rx
        .received()
        .iter()
        .map(|r| r.json()["data"]["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 500, "each record once");
}
