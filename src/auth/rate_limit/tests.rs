use super::*;

const SEC: u64 = 1_000_000_000;

fn limiter() -> RateLimiter<u32> {
    RateLimiter::new(100, Duration::from_secs(3_600))
}

fn limits(spec: &[&str]) -> Arc<[Limit]> {
    Limit::parse_list(spec).unwrap().into()
}

#[test]
fn limits_parse_and_print_in_the_contract_syntax() {
    assert_eq!(Limit::parse("5/1s").unwrap().to_string(), "5/1s");
    for bad in ["5", "0/1s", "5/2s", "x/1s", "5/1d"] {
        assert!(Limit::parse(bad).is_err(), "{bad}");
    }
    assert!(Limit::parse_list(&["5/1s", "6/1s"]).is_err());
    assert_eq!(
        policy_header(&default_limits()),
        r#""1s";q=20;w=1, "10s";q=200;w=10, "1m";q=1000;w=60"#
    );
}

#[test]
fn a_full_burst_passes_and_the_next_call_waits() {
    let l = limiter();
    let lim = limits(&["5/1s"]);
    let t0 = 10 * SEC;
    for i in 0..5 {
        assert!(l.check_at(&1, &lim, t0, true).allowed, "call {i}");
    }
    let v = l.check_at(&1, &lim, t0, true);
    assert!(!v.allowed);
    assert_eq!(v.retry_after_s, 1);
    assert!(
        l.check_at(&1, &lim, t0 + SEC / 5, true).allowed,
        "one interval later"
    );
}

#[test]
fn a_held_bucket_and_the_key_share_one_set_of_windows() {
    let l = limiter();
    let lim = limits(&["4/1m"]);
    let held = l.bucket(&3, &lim);
    assert!(l.check_bucket(&held, &lim).allowed);
    assert!(l.check(&3, &lim).allowed);
    assert_eq!(l.peek_bucket(&held, &lim).windows[0].remaining, 2);
    l.forget(&3);
    assert_eq!(
        l.peek(&3, &lim).windows[0].remaining,
        4,
        "forgotten: whole again"
    );
    assert_eq!(
        l.peek_bucket(&held, &lim).windows[0].remaining,
        4,
        "for the holder too"
    );
}

#[test]
fn the_window_edge_does_not_allow_a_double_burst() {
    // A fixed window would allow 10 calls around the edge; GCRA allows a burst, then the rate.
    let l = limiter();
    let lim = limits(&["10/10s"]);
    let t0 = 100 * SEC;
    let first: usize = (0..10)
        .filter(|_| l.check_at(&7, &lim, t0 + 9 * SEC, true).allowed)
        .count();
    let edge: usize = (0..10)
        .filter(|_| l.check_at(&7, &lim, t0 + 10 * SEC + 1, true).allowed)
        .count();
    assert_eq!(first, 10);
    assert_eq!(edge, 1, "only what one second refilled");
}

#[test]
fn changed_limits_keep_the_calls_counted_in_the_windows_they_keep() {
    let l = limiter();
    let five = limits(&["5/1m"]);
    let t0 = 10 * SEC;
    for _ in 0..5 {
        assert!(l.check_at(&4, &five, t0, true).allowed);
    }
    // A window added: the minute's five calls still count, the hour starts whole.
    let more = limits(&["5/1m", "100/1h"]);
    let v = l.check_at(&4, &more, t0 + SEC, true);
    assert!(!v.allowed, "the minute is still used up");
    assert_eq!(v.windows[1].remaining, 100);
    // Narrowed to three a minute after five were used: none left until they drain.
    let three = limits(&["3/1m"]);
    let v = l.check_at(&4, &three, t0 + 2 * SEC, true);
    assert!(!v.allowed);
    assert_eq!(v.windows[0].remaining, 0);
    // Five calls at 20 s each under the new quota, 60 s of them within the window: the
    // next passes 40 s (less the time gone by) later, not at once.
    assert!(v.retry_after_s >= 30, "{}", v.retry_after_s);
    assert!(!l.check_at(&4, &three, t0 + 30 * SEC, true).allowed);
    // Widened to fifty: five of fifty are used.
    let fifty = limits(&["50/1m"]);
    let l2 = limiter();
    for _ in 0..5 {
        l2.check_at(&5, &five, t0, true);
    }
    assert_eq!(l2.check_at(&5, &fifty, t0, false).windows[0].remaining, 45);
}

#[test]
fn the_tightest_window_of_equal_shares_is_the_one_whole_last() {
    let l = limiter();
    let lim = limits(&["3/1s", "3/10s"]);
    for _ in 0..3 {
        l.check_at(&6, &lim, SEC, true);
    }
    let v = l.check_at(&6, &lim, SEC, true);
    assert!(!v.allowed);
    let t = v.tightest().unwrap();
    assert_eq!(t.limit.window, "10s");
    assert!(t.reset_s <= v.retry_after_s + 10 && t.reset_s >= v.retry_after_s);
}

#[test]
fn blocked_looks_without_tracking_and_says_how_long() {
    let l = limiter();
    let lim = limits(&["2/1m"]);
    assert_eq!(l.blocked(&8), None);
    assert_eq!(l.len(), 0, "an address that never failed is not tracked");
    l.check(&8, &lim);
    assert_eq!(l.blocked(&8), None, "one of two used");
    l.check(&8, &lim);
    let wait = l.blocked(&8).expect("both used");
    assert!((1..=30).contains(&wait), "{wait}");
}

/// `blocked` answers from `refuse_until` alone once it has passed; it must agree with a
/// look at every key's windows (under the limits each holds) whatever was charged, to which
/// keys, under which limits (a quota lowered later too).
#[test]
fn blocked_without_a_look_up_agrees_with_looking() {
    let l = limiter();
    let limit_sets = [
        limits(&["2/1s", "5/1m"]),
        limits(&["1/10s"]),
        limits(&["3/1s"]),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let looked = |k: u32, at: u64| {
        l.buckets.get(&k).is_some_and(|b| {
            let lim = b.lock().unwrap().limits.clone();
            !judge(&Bucket(b), &lim, at, false, &AtomicU64::new(0)).allowed
        })
    };
    let (mut t, mut refusals) = (SEC, 0);
    for i in 0..3_000 {
        // Now and then a quiet hour: every window is whole again and the bound long past, so
        // the refusals after it must raise the bound themselves.
        t += if i % 97 == 96 {
            3_600 * SEC
        } else {
            next() % (SEC / 3)
        };
        let key = (next() % 5) as u32;
        let lim = &limit_sets[(next() % 3) as usize];
        l.check_at(&key, lim, t, next() % 4 != 0);
        for at in [t, t + SEC / 2, t + 2 * SEC, t + 11 * SEC, t + 61 * SEC] {
            for k in 0..6 {
                let refused = looked(k, at);
                refusals += u32::from(refused);
                assert_eq!(l.blocked_at(&k, at).is_some(), refused, "key {k} at {at}");
            }
        }
    }
    assert!(
        refusals > 1_000,
        "the run refused too rarely to test much: {refusals}"
    );
    assert!(
        l.blocked_at(&0, t + 3_600 * SEC).is_none()
            && t + 3_600 * SEC >= l.refuse_until.load(Ordering::Acquire),
        "an hour after the last call no key refuses, and the limiter knows it"
    );
}

#[test]
fn a_refusal_in_one_window_charges_no_other_window() {
    let l = limiter();
    let lim = limits(&["2/1s", "100/1m"]);
    let t0 = SEC;
    for _ in 0..50 {
        l.check_at(&3, &lim, t0, true);
    }
    let v = l.check_at(&3, &lim, t0, false);
    let minute = v.windows.iter().find(|w| w.limit.window == "1m").unwrap();
    assert_eq!(
        minute.remaining, 98,
        "only the two allowed calls were charged"
    );
}

#[test]
fn steady_traffic_at_the_quota_is_never_refused() {
    let l = limiter();
    let lim = limits(&["20/1s", "200/10s"]);
    for i in 0..1_000u64 {
        assert!(
            l.check_at(&9, &lim, SEC + i * SEC / 20, true).allowed,
            "call {i}"
        );
    }
}

#[test]
fn the_model_matches_a_reference_sliding_count_bound() {
    // Reference: in any span of one window, GCRA admits at most quota + span/interval calls.
    let l = limiter();
    let lim = limits(&["10/1s"]);
    let mut admitted = Vec::new();
    let mut t = SEC;
    for i in 0..5_000u64 {
        t += (i * 7_919) % 40_000_000; // irregular arrivals, 0-40 ms apart
        if l.check_at(&11, &lim, t, true).allowed {
            admitted.push(t);
        }
    }
    for (i, &start) in admitted.iter().enumerate() {
        let in_window = admitted[i..]
            .iter()
            .take_while(|&&x| x < start + SEC)
            .count();
        assert!(in_window <= 20, "{in_window} calls within one second");
    }
    let total_span = (t - SEC) as f64 / SEC as f64;
    assert!((admitted.len() as f64) <= 10.0 * total_span + 10.0);
}

#[test]
fn the_tightest_window_is_reported() {
    let l = limiter();
    let lim = limits(&["20/1s", "200/10s", "1000/1m"]);
    let v = l.check_at(&5, &lim, SEC, true);
    assert_eq!(v.header().unwrap(), "\"1s\";r=19;t=1");
}
