//! One lane's queue of claimed deliveries, and the count of its jobs in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::store::deliveries::Claimed;

/// Claimed deliveries on their way to one lane's senders. A sender holds the lock only to
/// take one, never while it waits: with the senders sharing a `Mutex<Receiver>`, the one
/// holding it waited in `recv` and the others queued on the lock, and spinning on it was 7%
/// of the server's CPU while a backlog drained. Never longer than the lane's senders are
/// many: the worker claims only what its free senders can take.
#[derive(Default)]
pub(super) struct Jobs {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Jobs pushed and not yet done: waiting, or being sent.
    in_flight: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Claimed>,
    closed: bool,
}

impl Jobs {
    pub(super) fn push(&self, c: Claimed) {
        // Counted before a sender can take it, and so before it can be done.
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting
            .push_back(c);
        self.ready.notify_one();
    }

    /// A sender is done with a job it took.
    pub(super) fn done(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Jobs pushed and not yet done.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// No more jobs: the senders finish what waits, then stop.
    pub(super) fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// The next job; `None` once closed and empty.
    pub(super) fn take(&self) -> Option<Claimed> {
        let guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut queue = self
            .ready
            .wait_while(guard, |q| q.waiting.is_empty() && !q.closed)
            .unwrap_or_else(|p| p.into_inner());
        queue.waiting.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::EndpointId;

    fn job(id: i64) -> Claimed {
        Claimed {
            id,
            event_id: id,
            endpoint_id: EndpointId(1),
            attempts_in_schedule: 0,
            msg_id: format!("msg_{id}"),
            payload: "{}".into(),
            url: "http://127.0.0.1:9/".into(),
            secret: "whsec_x".into(),
            previous_secret: None,
        }
    }

    /// Senders take jobs in order, one each, and count them done; closing wakes the idle ones
    /// and lets the jobs still waiting be taken first.
    #[test]
    fn senders_take_jobs_in_order_and_stop_after_the_last_once_closed() {
        let jobs = Arc::new(Jobs::default());
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let jobs = jobs.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(c) = jobs.take() {
                        got.push(c.id);
                        jobs.done();
                    }
                    got
                })
            })
            .collect();
        for id in 1..=100 {
            jobs.push(job(id));
        }
        jobs.close();
        let mut all: Vec<i64> = Vec::new();
        for t in takers {
            let got = t.join().unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, (1..=100).collect::<Vec<_>>());
        assert_eq!(jobs.in_flight(), 0, "every job taken was done");

        let closed = Jobs::default();
        closed.push(job(7));
        assert_eq!(closed.in_flight(), 1, "counted from the push");
        closed.close();
        assert_eq!(closed.take().map(|c| c.id), Some(7));
        assert!(closed.take().is_none());
    }
}
