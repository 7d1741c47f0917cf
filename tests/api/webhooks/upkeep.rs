//! Keeping the outbox healthy: failing endpoints disabled, old rows pruned, prompt shutdown.

use std::time::{Duration, Instant};

use switchboard::manage;

use super::{WAIT, app, deliveries, endpoint, fast, post_lead};
use crate::helpers::{eventually, spawn_app_with};
use crate::receiver::{Answer, Receiver};

#[test]
fn an_endpoint_that_only_ever_fails_is_disabled_with_the_reason() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.disable_after = Duration::from_millis(300);
        s.webhooks.retry_schedule = vec![Duration::from_millis(100); 20];
    });
    let rx = Receiver::scripted(|_| Answer::status(500));
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Never arrives");
    let disabled = || app.query(|c| Ok(manage::webhooks::require(c, ep).unwrap()));
    assert!(eventually(WAIT, || !disabled().enabled));
    let why = disabled().disabled_reason.unwrap();
    assert!(why.starts_with("every delivery failed from"), "{why}");
    assert_eq!(deliveries(&app, ep)[0].status, "paused");
}

#[test]
fn delivered_deliveries_and_their_events_are_pruned_after_the_retention_period() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.retention = Duration::from_millis(300);
        s.webhooks.prune_interval = Duration::from_millis(100);
    });
    let rx = Receiver::ok();
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Short-lived");
    assert!(eventually(WAIT, || rx.count() == 1));
    assert!(eventually(WAIT, || deliveries(&app, ep).is_empty()));
    // The events go in the pass's next write, after their deliveries' (`webhooks::prune`):
    // looked at right after the deliveries went, the event may still be there.
    let events = || -> i64 {
        app.query(|c| c.query_row("SELECT COUNT(*) FROM webhook_events", [], |r| r.get(0)))
    };
    assert!(
        eventually(WAIT, || events() == 0),
        "{} events left",
        events()
    );
}

#[test]
fn shutdown_does_not_wait_for_a_hung_receiver() {
    let app = app();
    let rx = Receiver::scripted(|_| Answer::status(200).after(Duration::from_secs(4)));
    endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Hanging");
    assert!(eventually(WAIT, || rx.count() == 1));
    let stopping = Instant::now();
    drop(app);
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "shutdown took {:?}",
        stopping.elapsed()
    );
}
