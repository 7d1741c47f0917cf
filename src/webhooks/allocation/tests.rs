use super::*;

const TIMEOUT: Duration = Duration::from_secs(4);
const SLOW: Duration = Duration::from_secs(1);
const LANE: usize = 16;

fn claimed(endpoint: i64, delivery: i64) -> Claimed {
    Claimed {
        id: delivery,
        endpoint_id: EndpointId(endpoint),
        attempts_in_schedule: 0,
        msg_id: format!("msg_{delivery}"),
        payload: "{}".into(),
        url: "http://127.0.0.1:9/".into(),
        secret: "whsec_x".into(),
        previous_secret: None,
    }
}

fn ep(id: i64) -> EndpointId {
    EndpointId(id)
}

/// A claim in the steady lane of 16, four at once to a trusted endpoint.
fn plan(a: &Allocation) -> Plan {
    a.plan(Kind::Steady, LANE, 4)
}

/// Hands `deliveries` to `endpoint`'s senders as a claim would.
fn start(a: &Allocation, lane: Kind, endpoint: i64, deliveries: &[i64]) {
    let mut p = a.plan(lane, LANE, 4);
    p.room(ep(endpoint), false);
    let batch: Vec<Claimed> = deliveries.iter().map(|&d| claimed(endpoint, d)).collect();
    a.started(lane, &batch, &p);
}

#[test]
fn a_new_endpoint_gets_one_attempt_at_a_time_until_it_answers_promptly() {
    let a = Allocation::new(TIMEOUT);
    assert_eq!(plan(&a).room(ep(1), false), 1);
    start(&a, Kind::Steady, 1, &[10]);
    assert_eq!(
        plan(&a).room(ep(1), false),
        0,
        "its one attempt is in flight"
    );
    a.judge(ep(1), true, Duration::from_millis(30));
    a.done(ep(1), 10);
    assert_eq!(plan(&a).room(ep(1), false), 4, "trusted: four at once");
    start(&a, Kind::Steady, 1, &[11, 12, 13]);
    assert_eq!(plan(&a).room(ep(1), false), 1);
}

#[test]
fn a_failing_or_slow_answer_holds_an_endpoint_to_one_attempt_and_a_prompt_one_restores_it() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true, Duration::from_millis(30));
    assert_eq!(plan(&a).room(ep(1), false), 4);
    // A timeout, a refused connection, a 500: no 2xx.
    a.judge(ep(1), false, Duration::from_millis(5));
    assert_eq!(plan(&a).room(ep(1), false), 1);
    a.judge(ep(1), true, Duration::from_millis(30));
    assert_eq!(plan(&a).room(ep(1), false), 4, "recovered");
    // A 2xx, but slower than a quarter of the timeout.
    a.judge(ep(1), true, SLOW + Duration::from_millis(1));
    assert_eq!(plan(&a).room(ep(1), false), 1);
    a.judge(ep(1), true, SLOW);
    assert_eq!(plan(&a).room(ep(1), false), 4);
}

#[test]
fn an_attempt_in_flight_longer_than_slow_makes_its_trusted_endpoint_guarded_at_once() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true, Duration::from_millis(30));
    start(&a, Kind::Steady, 1, &[10]);
    let now = Instant::now();
    let mut early = a.plan_at(now, Kind::Steady, LANE, 4);
    assert_eq!(early.room(ep(1), false), 3);
    let mut late = a.plan_at(now + SLOW + Duration::from_millis(1), Kind::Steady, LANE, 4);
    assert_eq!(late.room(ep(1), false), 0, "one at a time, and it has one");
    assert_eq!((late.guarded, late.untrusted), (1, 1), "counted as guarded");
    a.done(ep(1), 10);
    let mut after = a.plan_at(now + SLOW * 2, Kind::Steady, LANE, 4);
    assert_eq!(after.room(ep(1), false), 4, "its last answer was prompt");
}

#[test]
fn an_endpoint_the_database_says_is_failing_starts_guarded() {
    let a = Allocation::new(TIMEOUT);
    let mut p = plan(&a);
    assert_eq!(p.room(ep(1), true), 1);
    assert_eq!(p.room(ep(2), false), 1);
    assert_eq!(p.decided[&ep(1)], Standing::Guarded);
    assert_eq!(p.decided[&ep(2)], Standing::New);
    // Its first attempt in flight counts as a guarded one at the next claim.
    start(&a, Kind::Steady, 1, &[10]);
    let mut p = plan(&a);
    assert_eq!((p.guarded, p.untrusted), (0, 1));
    assert_eq!(p.room(ep(1), true), 0);
    assert_eq!((p.guarded, p.untrusted), (1, 1));
    // What this process saw of it wins over the database's mark.
    a.judge(ep(1), true, Duration::from_millis(30));
    a.done(ep(1), 10);
    assert_eq!(plan(&a).room(ep(1), true), 4);
}

#[test]
fn guarded_endpoints_hold_at_most_half_a_lane_and_with_new_ones_three_quarters() {
    let a = Allocation::new(TIMEOUT);
    for id in 1..=20 {
        a.judge(ep(id), false, TIMEOUT);
    }
    a.judge(ep(100), true, Duration::from_millis(30));
    let mut p = plan(&a);
    for id in (1..=20).chain(200..220).chain([100]) {
        p.room(ep(id), false);
    }
    let guarded = (1..=20).filter(|&id| p.admit(ep(id))).count();
    assert_eq!(guarded, LANE / 2);
    let new = (200..220).filter(|&id| p.admit(ep(id))).count();
    assert_eq!(guarded + new, LANE * 3 / 4);
    assert!(
        (0..16).all(|_| p.admit(ep(100))),
        "a trusted endpoint is never refused"
    );

    // Attempts already in flight in the lane count; those in the other lane do not.
    let a = Allocation::new(TIMEOUT);
    for id in 1..=6 {
        a.judge(ep(id), false, TIMEOUT);
        start(&a, Kind::Steady, id, &[id * 10]);
        start(&a, Kind::Yielding, id + 100, &[id * 10 + 1]);
    }
    let mut p = plan(&a);
    p.room(ep(7), true);
    assert!(p.admit(ep(7)) && p.admit(ep(7)));
    assert!(!p.admit(ep(7)), "6 in flight and 2 more: half of 16");
    let mut y = a.plan(Kind::Yielding, 4, 1);
    y.room(ep(7), true);
    assert!(
        !y.admit(ep(7)),
        "the yielding lane's 4 have 6 new ones in flight"
    );
}

#[test]
fn a_lane_of_one_still_takes_an_untrusted_endpoint() {
    let a = Allocation::new(TIMEOUT);
    let mut p = a.plan(Kind::Steady, 1, 4);
    p.room(ep(1), true);
    assert!(p.admit(ep(1)));
    assert!(!p.admit(ep(1)));
}

#[test]
fn endpoints_no_claim_asks_about_are_forgotten_once_their_attempts_are_over() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true, Duration::from_millis(30));
    start(&a, Kind::Steady, 2, &[20]);
    a.judge(ep(2), true, Duration::from_millis(30));
    // Both removed: a claim asks about neither.
    let idle = plan(&a);
    a.started(Kind::Steady, &[], &idle);
    assert_eq!(a.lock().keys().copied().collect::<Vec<_>>(), [ep(2)]);
    a.done(ep(2), 20);
    a.started(Kind::Steady, &[], &plan(&a));
    assert!(a.lock().is_empty());
}
