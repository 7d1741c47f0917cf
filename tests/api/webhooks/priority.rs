//! Webhook senders run at the lowest scheduling priority; the threads a request waits on keep
//! the server's.

use std::fs;

use super::{WAIT, app};
use crate::helpers::eventually;

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

/// The kernel keeps the first 15 bytes of a thread's name: `webhook-sender-0` reads as
/// `webhook-sender-`, `wal-checkpointer` as `wal-checkpointe`.
fn is_sender(name: &str) -> bool {
    name.starts_with("webhook-sender")
}

/// The threads a request waits on, and the webhook worker, whose reads hold a WAL snapshot.
fn keeps_the_servers_priority(name: &str) -> bool {
    ["db-writer", "wal-checkpointe", "webhook-worker"].contains(&name)
        || name.starts_with("actix-rt")
}

#[test]
fn webhook_senders_yield_to_the_threads_a_request_waits_on() {
    let _app = app();
    let server = own_nice();
    // Other tests start servers at the same time: a sender just spawned may not have lowered
    // itself yet, so the check is repeated until one listing finds every one of them lowered.
    let all_lowered = eventually(WAIT, || {
        let senders: Vec<i32> = threads()
            .into_iter()
            .filter(|(name, _)| is_sender(name))
            .map(|(_, nice)| nice)
            .collect();
        !senders.is_empty() && senders.iter().all(|&n| n == 19)
    });
    assert!(all_lowered, "threads: {:?}", threads());
    let others: Vec<(String, i32)> = threads()
        .into_iter()
        .filter(|(name, _)| keeps_the_servers_priority(name))
        .collect();
    for kind in ["db-writer", "wal-checkpointe", "webhook-worker", "actix-rt"] {
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
