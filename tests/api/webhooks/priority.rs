//! While callers crowd the writer, webhook attempts go to senders at the lowest scheduling
//! priority; the threads a request waits on, and the senders that take every attempt the
//! rest of the time, keep the server's. Linux only: elsewhere no sender lowers itself, and
//! the yielding lane is never used.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{WAIT, app, endpoint, post_lead};
use crate::helpers::eventually;
use crate::receiver::Receiver;

mod threads {
    use std::fs;

    /// `(name, nice)` of every thread of this process (`/proc/self/task/*/stat`).
    pub fn all() -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for task in fs::read_dir("/proc/self/task").unwrap().flatten() {
            // A thread can end between the listing and the read.
            let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            out.push(parse_stat(&stat));
        }
        out
    }

    /// The name between the parentheses (it may hold spaces and parentheses itself), and the
    /// nice value: the 19th field, the 17th after the name.
    fn parse_stat(stat: &str) -> (String, i32) {
        let open = stat.find('(').unwrap();
        let close = stat.rfind(')').unwrap();
        let name = stat[open + 1..close].to_owned();
        let nice = stat[close + 1..].split_whitespace().nth(16).unwrap();
        (name, nice.parse().unwrap())
    }

    pub fn own_nice() -> i32 {
        parse_stat(&fs::read_to_string("/proc/thread-self/stat").unwrap()).1
    }
}

/// The threads a request waits on, the webhook worker (whose reads hold a WAL snapshot), and
/// the steady senders. The kernel keeps the first 15 bytes of a thread's name:
/// `webhook-sender-0` reads as `webhook-sender-`, `wal-checkpointer` as `wal-checkpointe`.
const KEEP_THE_SERVERS: [&str; 5] = [
    "db-writer",
    "wal-checkpointe",
    "webhook-worker",
    "webhook-sender-",
    "actix-rt",
];

#[test]
fn only_the_yielding_senders_run_at_the_lowest_priority() {
    use switchboard::webhooks::priority::NICE;
    let _app = app();
    let server = threads::own_nice();
    // Other tests start servers at the same time: a sender just spawned may not have lowered
    // itself yet, so the check is repeated until one listing finds every one of them lowered.
    let all_lowered = eventually(WAIT, || {
        let yielding: Vec<i32> = threads::all()
            .into_iter()
            .filter(|(name, _)| name.starts_with("webhook-yield-"))
            .map(|(_, nice)| nice)
            .collect();
        !yielding.is_empty() && yielding.iter().all(|&n| n == NICE)
    });
    assert!(all_lowered, "threads: {:?}", threads::all());
    let others: Vec<(String, i32)> = threads::all()
        .into_iter()
        .filter(|(name, _)| KEEP_THE_SERVERS.iter().any(|k| name.starts_with(k)))
        .collect();
    for kind in KEEP_THE_SERVERS {
        assert!(
            others.iter().any(|(name, _)| name.starts_with(kind)),
            "no {kind} thread in {others:?}"
        );
    }
    assert!(
        others.iter().all(|&(_, nice)| nice == server),
        "{others:?} (the server's threads run at {server})"
    );
}

const CROWDED: &str = "switchboard_db_writer_crowded_commits_total";
const YIELDING: &str = r#"switchboard_webhook_attempts_total{lane="yielding"}"#;
const STEADY: &str = r#"switchboard_webhook_attempts_total{lane="steady"}"#;

#[test]
fn a_burst_that_crowds_the_writer_is_delivered_in_full_by_the_yielding_senders_then_the_steady_ones()
 {
    let app = app();
    let rx = Receiver::ok();
    endpoint(&app, &rx.url, &["lead.created"]);
    let token = app.admin_token();
    let (crowded_before, yielding_before) = (app.metric(CROWDED), app.metric(YIELDING));
    // Callers at once until the writer has committed for a crowd of them and the yielding
    // senders have made attempts (polled up to a generous bound).
    let (stop, created) = (AtomicBool::new(false), std::sync::Mutex::new(Vec::new()));
    let posted = AtomicUsize::new(0);
    let yielded = std::thread::scope(|s| {
        for i in 0..32 {
            let (app, token, stop, created, posted) = (&app, &token, &stop, &created, &posted);
            s.spawn(move || {
                let mut n = 0;
                // At most 6,400 leads in all, so that a slow machine still delivers them in
                // a few seconds.
                while !stop.load(Ordering::Relaxed) && n < 200 {
                    let id = post_lead(app, token, &format!("Burst {i}-{n}"));
                    created.lock().unwrap().push(id);
                    posted.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            });
        }
        let yielded = eventually(WAIT, || {
            app.metric(CROWDED) > crowded_before && app.metric(YIELDING) > yielding_before
        });
        stop.store(true, Ordering::Relaxed);
        yielded
    });
    assert!(
        yielded,
        "no attempt by the yielding senders: {} crowded commits, {} leads",
        app.metric(CROWDED) - crowded_before,
        posted.load(Ordering::Relaxed)
    );
    // Once the crowd is over, the steady senders take the attempts again: one lead at a time
    // until one of its events goes through them.
    let steady_before = app.metric(STEADY);
    let mut created = created.into_inner().unwrap();
    let back = eventually(WAIT, || {
        created.push(post_lead(&app, &token, "After the burst"));
        eventually(std::time::Duration::from_secs(1), || {
            app.metric(STEADY) > steady_before
        })
    });
    assert!(back, "the steady senders never took over again");
    // Every lead's event arrives (at least once: a retry may send one twice).
    let want: BTreeSet<i64> = created.iter().copied().collect();
    let delivered = || -> BTreeSet<i64> {
        rx.received()
            .iter()
            .map(|r| r.json()["data"]["id"].as_i64().expect("a lead id"))
            .collect()
    };
    // Generous: a debug build on a busy machine sends a few hundred a second at least.
    let bound = WAIT + std::time::Duration::from_millis(5) * want.len() as u32;
    assert!(
        eventually(bound, || delivered() == want),
        "{} of {} leads' events delivered",
        delivered().intersection(&want).count(),
        want.len()
    );
}
