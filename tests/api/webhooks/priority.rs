//! While callers crowd the writer, webhook attempts go to senders at the lowest scheduling
//! priority; the threads a request waits on, and the senders that take every attempt the
//! rest of the time, keep the server's.

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{WAIT, app, endpoint, post_lead};
use crate::helpers::{TestApp, eventually};
use crate::receiver::Receiver;

/// `(name, nice)` of every thread of this process (`/proc/self/task/*/stat`).
fn threads() -> Vec<(String, i32)> {
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

/// The name between the parentheses (it may hold spaces and parentheses itself), and the nice
/// value: the 19th field, the 17th after the name.
fn parse_stat(stat: &str) -> (String, i32) {
    let open = stat.find('(').unwrap();
    let close = stat.rfind(')').unwrap();
    let name = stat[open + 1..close].to_owned();
    let nice = stat[close + 1..].split_whitespace().nth(16).unwrap();
    (name, nice.parse().unwrap())
}

fn own_nice() -> i32 {
    parse_stat(&fs::read_to_string("/proc/thread-self/stat").unwrap()).1
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
    let _app = app();
    let server = own_nice();
    // Other tests start servers at the same time: a sender just spawned may not have lowered
    // itself yet, so the check is repeated until one listing finds every one of them lowered.
    let all_lowered = eventually(WAIT, || {
        let yielding: Vec<i32> = threads()
            .into_iter()
            .filter(|(name, _)| name.starts_with("webhook-yield-"))
            .map(|(_, nice)| nice)
            .collect();
        !yielding.is_empty() && yielding.iter().all(|&n| n == 19)
    });
    assert!(all_lowered, "threads: {:?}", threads());
    let others: Vec<(String, i32)> = threads()
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

/// `switchboard_db_writer_crowded_commits_total`.
fn crowded_commits(app: &TestApp) -> u64 {
    let m = app.send("GET", "/metrics", &[], None);
    m.text
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_db_writer_crowded_commits_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the metric")
}

#[test]
fn every_event_of_a_burst_that_crowds_the_writer_is_delivered_once() {
    let app = app();
    let rx = Receiver::ok();
    endpoint(&app, &rx.url, &["lead.created"]);
    let token = app.admin_token();
    let before = crowded_commits(&app);
    // Callers at once until the writer has committed for a crowd of them a few times (polled
    // up to a generous bound): attempts then go to the yielding senders, and back once the
    // crowd is gone.
    let (stop, created) = (AtomicBool::new(false), AtomicUsize::new(0));
    let crowded = std::thread::scope(|s| {
        for i in 0..32 {
            let (app, token, stop, created) = (&app, &token, &stop, &created);
            s.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 200 {
                    post_lead(app, token, &format!("Burst {i}-{n}"));
                    created.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            });
        }
        let crowded = eventually(WAIT, || crowded_commits(&app) >= before + 3);
        stop.store(true, Ordering::Relaxed);
        crowded
    });
    assert!(crowded, "the writer never counted a crowd");
    let created = created.load(Ordering::Relaxed);
    assert!(
        eventually(WAIT, || rx.count() >= created),
        "{} of {created} delivered",
        rx.count()
    );
    // Nothing sent twice either: each lead's event once.
    let mut ids: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), created);
    assert_eq!(rx.count(), created);
}
