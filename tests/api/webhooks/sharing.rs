//! The senders shared among endpoints: hanging endpoints, new or turned bad, cannot take
//! them all from a healthy one; an endpoint that answers gets several attempts at once, and
//! one that recovers from failing its full share again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;

/// How long an attempt may take in these tests. The receivers that hang never answer within
/// it: they hold a request until the test releases them.
const TIMEOUT: Duration = Duration::from_secs(8);

fn app() -> TestApp {
    spawn_app_with(|s| {
        fast(s);
        s.webhooks.timeout = TIMEOUT;
    })
}

/// Makes the hanging receivers answer (and so lets the server stop at once) when dropped.
struct Release(Arc<AtomicBool>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A receiver that accepts every request and answers only once `released` is set.
fn hanging(released: &Arc<AtomicBool>) -> Receiver {
    let released = released.clone();
    Receiver::scripted(move |_| {
        while !released.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Answer::status(200)
    })
}

/// Asserts that `healthy` got `n` events, each less than half the timeout after `start` (or
/// before it).
fn all_promptly(healthy: &Receiver, n: usize, start: Instant) {
    assert!(
        eventually(TIMEOUT * 3, || healthy.count() == n),
        "{} of {n} events arrived",
        healthy.count()
    );
    let late: Vec<Duration> = healthy
        .received()
        .iter()
        .map(|r| r.at.duration_since(start))
        .collect();
    eprintln!("the healthy endpoint's events arrived after {late:?}");
    assert!(
        late.iter().all(|&d| d < TIMEOUT / 2),
        "the healthy endpoint waited for the hanging ones: {late:?}"
    );
}

#[test]
fn new_endpoints_that_hang_do_not_hold_up_a_healthy_one() {
    let app = app();
    let released = Arc::new(AtomicBool::new(false));
    let hung: Vec<Receiver> = (0..4).map(|_| hanging(&released)).collect();
    let healthy = Receiver::ok();
    for rx in &hung {
        endpoint(&app, &rx.url, &["lead.created"]);
    }
    endpoint(&app, &healthy.url, &["lead.created"]);
    let _release = Release(released);
    let token = app.admin_token();
    let start = Instant::now();
    // Four at once to each of four endpoints would have taken all sixteen senders.
    for i in 0..8 {
        post_lead(&app, &token, &format!("Lead {i}"));
    }
    all_promptly(&healthy, 8, start);
    assert!(
        hung.iter().all(|rx| rx.count() == 1),
        "one attempt at a time to an endpoint that has not answered yet"
    );
    // The metrics show them held: new, then hanging once their attempts pass a quarter of
    // the timeout.
    let held = || {
        app.metric("switchboard_webhook_endpoints_held{reason=\"new\"}")
            + app.metric("switchboard_webhook_endpoints_held{reason=\"hanging\"}")
    };
    assert!(eventually(WAIT, || held() == 4), "held: {}", held());
    assert_eq!(
        app.metric("switchboard_webhook_endpoints_held{reason=\"failing\"}"),
        0
    );
}

#[test]
fn a_score_of_endpoints_that_hang_do_not_hold_up_one_that_has_been_answering() {
    let app = app();
    let healthy = Receiver::ok();
    endpoint(&app, &healthy.url, &["lead.created"]);
    let token = app.admin_token();
    post_lead(&app, &token, "Before");
    assert!(eventually(WAIT, || healthy.count() == 1));
    let released = Arc::new(AtomicBool::new(false));
    let hung: Vec<Receiver> = (0..20).map(|_| hanging(&released)).collect();
    for rx in &hung {
        endpoint(&app, &rx.url, &["lead.created"]);
    }
    let _release = Release(released);
    let start = Instant::now();
    for i in 0..5 {
        post_lead(&app, &token, &format!("Lead {i}"));
    }
    // With the one before (counted as arriving at `start`).
    all_promptly(&healthy, 6, start);
    // Three quarters of the senders went to the endpoints not known to answer, and no more
    // before the first of those attempts times out.
    let sent = || hung.iter().map(Receiver::count).sum::<usize>();
    assert!(eventually(WAIT, || sent() >= 12));
    assert_eq!(sent(), 12, "attempts at the hanging endpoints");
}

/// A receiver that fails its first request and then holds each one until `n` are held at
/// once (or `patience` has passed) before answering 200; it counts the most it held at once.
fn gathering(n: usize, patience: Duration) -> (Receiver, Arc<AtomicUsize>) {
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let m = most.clone();
    let rx = Receiver::scripted(move |i| {
        if i == 0 {
            return Answer::status(500);
        }
        let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(at_once, Ordering::SeqCst);
        let until = Instant::now() + patience;
        while now.load(Ordering::SeqCst) < n && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        now.fetch_sub(1, Ordering::SeqCst);
        Answer::status(200)
    });
    (rx, most)
}

#[test]
fn an_endpoint_that_answers_again_after_failing_gets_four_attempts_at_once_again() {
    // A long timeout, so that the receiver's wait for its fourth request is far from `slow`
    // (a quarter of it), however slowly the test's requests are made.
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.timeout = Duration::from_secs(40);
    });
    let (rx, most) = gathering(4, Duration::from_secs(8));
    let (id, _) = endpoint(&app, &rx.url, &["lead.created"]);
    let token = app.admin_token();
    post_lead(&app, &token, "Fails, then is retried");
    assert!(eventually(WAIT, || deliveries(&app, id)[0].status == "delivered"));
    for i in 0..8 {
        post_lead(&app, &token, &format!("Burst {i}"));
    }
    assert!(eventually(WAIT * 2, || rx.count() == 10));
    assert_eq!(most.load(Ordering::SeqCst), 4, "a burst, four at a time");
}
