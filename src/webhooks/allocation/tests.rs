use super::*;

const TIMEOUT: Duration = Duration::from_secs(4);
const SLOW: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const LANE: usize = 16;

fn claimed(endpoint: i64, delivery: i64) -> Claimed {
    Claimed {
        id: delivery,
        event_id: delivery,
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

/// Hands `deliveries` to `endpoint`'s lane as a claim would, to wait in its queue.
fn queue(a: &Allocation, lane: Kind, endpoint: i64, deliveries: &[i64]) {
    let mut p = a.plan(lane, LANE, 4);
    p.room(ep(endpoint), false);
    let batch: Vec<Claimed> = deliveries.iter().map(|&d| claimed(endpoint, d)).collect();
    a.started(lane, &batch, &p);
}

/// Hands `deliveries` to `endpoint`'s senders, which start them at once.
fn start(a: &Allocation, lane: Kind, endpoint: i64, deliveries: &[i64]) {
    queue(a, lane, endpoint, deliveries);
    for &d in deliveries {
        a.begun(ep(endpoint), d);
    }
}

#[test]
fn a_new_endpoint_gets_one_attempt_at_a_time_until_it_answers() {
    let a = Allocation::new(TIMEOUT);
    assert_eq!(plan(&a).room(ep(1), false), 1);
    start(&a, Kind::Steady, 1, &[10]);
    assert_eq!(
        plan(&a).room(ep(1), false),
        0,
        "its one attempt is in flight"
    );
    a.judge(ep(1), true);
    a.done(ep(1), 10);
    assert_eq!(plan(&a).room(ep(1), false), 4, "trusted: four at once");
    start(&a, Kind::Steady, 1, &[11, 12, 13]);
    assert_eq!(plan(&a).room(ep(1), false), 1);
}

#[test]
fn a_failing_answer_holds_an_endpoint_to_one_attempt_and_a_2xx_restores_it() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true);
    assert_eq!(plan(&a).room(ep(1), false), 4);
    // A timeout, a refused connection, a 500: no 2xx.
    a.judge(ep(1), false);
    assert_eq!(plan(&a).room(ep(1), false), 1);
    // A 2xx, however long it took: a slow receiver that answers keeps four at once.
    a.judge(ep(1), true);
    assert_eq!(plan(&a).room(ep(1), false), 4, "recovered");
}

#[test]
fn an_attempt_hanging_makes_its_endpoint_guarded_with_one_more_beside_it() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true);
    start(&a, Kind::Steady, 1, &[10]);
    let now = Instant::now();
    let mut early = a.plan_at(now, Kind::Steady, LANE, 4);
    assert_eq!(early.room(ep(1), false), 3);
    let mut late = a.plan_at(now + SLOW + MS, Kind::Steady, LANE, 4);
    assert_eq!(
        late.room(ep(1), false),
        1,
        "one at a time beside the hanging one, so its other events are not held up"
    );
    assert_eq!((late.guarded, late.untrusted), (1, 1), "counted as guarded");
    // A failing endpoint's attempt hanging gets nothing beside it: one at a time.
    a.judge(ep(2), false);
    start(&a, Kind::Steady, 2, &[20]);
    let mut failing = a.plan_at(now + SLOW + MS, Kind::Steady, LANE, 4);
    assert_eq!(failing.room(ep(2), false), 0);
    a.done(ep(1), 10);
    let mut after = a.plan_at(now + SLOW * 2, Kind::Steady, LANE, 4);
    assert_eq!(after.room(ep(1), false), 4, "its last answer was a 2xx");
}

#[test]
fn time_in_flight_counts_from_when_a_sender_starts_the_attempt() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true);
    queue(&a, Kind::Steady, 1, &[10]);
    // Queued in its lane, however long: not hanging.
    let mut queued = a.plan_at(Instant::now() + TIMEOUT, Kind::Steady, LANE, 4);
    assert_eq!(queued.room(ep(1), false), 3);
    assert_eq!(queued.guarded, 0);
    a.begun(ep(1), 10);
    let started = a.lock()[&ep(1)].flights[0].since.unwrap();
    let mut p = a.plan_at(started + SLOW, Kind::Steady, LANE, 4);
    assert_eq!(p.room(ep(1), false), 3, "not past `slow` yet");
    let mut late = a.plan_at(started + SLOW + MS, Kind::Steady, LANE, 4);
    assert_eq!(late.room(ep(1), false), 1, "hanging");
}

#[test]
fn the_bursts_of_trusted_endpoints_hold_at_most_half_a_lane() {
    let a = Allocation::new(TIMEOUT);
    for id in 1..=6 {
        a.judge(ep(id), true);
    }
    let mut p = plan(&a);
    let mut admitted = 0;
    for id in 1..=6 {
        assert_eq!(p.room(ep(id), false), 4);
        admitted += (0..4).filter(|_| p.admit(ep(id))).count();
    }
    // Six first attempts, and bursts of at most half of 16.
    assert_eq!(admitted, 6 + LANE / 2);
    // In flight, they count at the next claim; a fifth trusted endpoint still gets its first.
    let a = Allocation::new(TIMEOUT);
    for id in 1..=4 {
        a.judge(ep(id), true);
        start(&a, Kind::Steady, id, &[id * 10, id * 10 + 1, id * 10 + 2]);
    }
    a.judge(ep(7), true);
    let mut p = plan(&a);
    p.room(ep(7), false);
    assert!(p.admit(ep(7)), "a first attempt");
    assert!(
        !p.admit(ep(7)),
        "four endpoints' bursts of two: half of 16 already"
    );
    // A lane of four keeps bursts to two.
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true);
    let mut small = a.plan(Kind::Steady, 4, 4);
    small.room(ep(1), false);
    assert_eq!((0..4).filter(|_| small.admit(ep(1))).count(), 3);
}

#[test]
fn done_ends_one_flight_of_a_delivery() {
    let a = Allocation::new(TIMEOUT);
    a.judge(ep(1), true);
    start(&a, Kind::Steady, 1, &[10, 10]);
    a.done(ep(1), 10);
    assert_eq!(
        plan(&a).room(ep(1), false),
        3,
        "the other attempt is still in flight"
    );
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
    a.judge(ep(1), true);
    a.done(ep(1), 10);
    assert_eq!(plan(&a).room(ep(1), true), 4);
}

#[test]
fn guarded_endpoints_hold_at_most_half_a_lane_and_with_new_ones_three_quarters() {
    let a = Allocation::new(TIMEOUT);
    for id in 1..=20 {
        a.judge(ep(id), false);
    }
    a.judge(ep(100), true);
    let mut p = plan(&a);
    for id in (1..=20).chain(200..220).chain([100]) {
        p.room(ep(id), false);
    }
    let guarded = (1..=20).filter(|&id| p.admit(ep(id))).count();
    assert_eq!(guarded, LANE / 2);
    let new = (200..220).filter(|&id| p.admit(ep(id))).count();
    assert_eq!(guarded + new, LANE * 3 / 4);
    assert!(
        p.admit(ep(100)),
        "a trusted endpoint's first attempt is never refused"
    );

    // Attempts already in flight in the lane count; those in the other lane do not.
    let a = Allocation::new(TIMEOUT);
    for id in 1..=6 {
        a.judge(ep(id), false);
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
    a.judge(ep(1), true);
    start(&a, Kind::Steady, 2, &[20]);
    a.judge(ep(2), true);
    // Both removed: a claim asks about neither.
    let idle = plan(&a);
    a.started(Kind::Steady, &[], &idle);
    assert_eq!(a.lock().keys().copied().collect::<Vec<_>>(), [ep(2)]);
    a.done(ep(2), 20);
    a.started(Kind::Steady, &[], &plan(&a));
    assert!(a.lock().is_empty());
}

#[test]
fn the_endpoints_held_are_counted_by_why() {
    let a = Allocation::new(TIMEOUT);
    start(&a, Kind::Steady, 3, &[30]); // new
    a.judge(ep(4), true);
    start(&a, Kind::Steady, 4, &[40]);
    // After the claims: a claim forgets idle endpoints it did not ask about.
    a.judge(ep(1), true);
    a.judge(ep(2), false);
    let held = Held::default();
    a.plan_at(Instant::now() + SLOW + MS, Kind::Steady, LANE, 4)
        .count_held(&held);
    // 3's attempt has run past `slow` too: hanging wins over new.
    let counts = |h: &Held| [&h.failing, &h.hanging, &h.new].map(|n| n.load(Ordering::Relaxed));
    assert_eq!(counts(&held), [1, 2, 0]);
    plan(&a).count_held(&held);
    assert_eq!(
        counts(&held),
        [1, 0, 1],
        "1 trusted, 2 failing, 3 new, 4 trusted"
    );
}
