//! The sender threads, in two lanes. While callers crowd the writer (`Writer::crowded_for`:
//! they queue up behind its commits, as under an import script's burst from many
//! connections), the worker hands what it claims to a few senders at the lowest scheduling
//! priority (`priority`), one attempt per endpoint at a time, which take the time the request
//! path leaves; the rest of the time, to the others, at the server's priority.
//!
//! Under a burst of creates on one core, attempts at the server's priority took 8.5% of the
//! processor and delivered a tenth of the burst's events while it lasted; the rest went out
//! after it anyway. Senders at nice 19 for good made a backlog's drain 20% dearer in processor
//! time per delivery: every wake-up of the writer or the worker preempted one mid-attempt. So
//! the yielding lane serves bursts only, and not for ever (`YIELD_AT_MOST`). The outbox makes
//! the wait safe: a delivery is durable from its change's commit.
//!
//! A yielding sender takes no lock that the writer or the HTTP workers take: anything it held
//! while preempted would hold them up until the scheduler gets round to a thread at nice 19,
//! and preempted it is, at once, whenever it wakes a thread of the server's priority. So it
//! does not queue its outcomes on the writer itself (queuing one can wake the writer, under
//! the lock of the writer's queue); it leaves them to the worker (`Pool::record_relayed`), and
//! wakes the worker without a lock (`Notifier`). The locks it does take, its lane's queue and
//! the endpoints' attempts in flight (`allocation`), it shares with the worker and the other
//! senders only; with every thread, it shares the allocator's (for a few instructions at a
//! time) and, when it logs an error (or a debug line, when those are on), the log's buffer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::allocation::{Allocation, Plan};
use super::sender::{Sender, Sent};
use super::worker::Notifier;
use super::{WebhookSettings, priority};
use crate::store::Store;
use crate::store::deliveries::Claimed;

mod jobs;
mod sender_thread;

use jobs::Jobs;
use sender_thread::{SenderCtx, record};

/// How long shutdown waits for attempts in flight before abandoning them (their leases are
/// released at the next start, so they are sent again then).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Attempts in flight at once to one trusted endpoint in the yielding lane (the steady lane
/// takes `WebhookSettings::per_endpoint`; see `allocation`). Under a burst of creates on one
/// core, one attempt at a time against four gave as many creates a second and as short a p99
/// (3 A/B pairs); the backlog goes out after the burst either way. A slow receiver, whose
/// attempts wait on the network at any priority, then holds one of the lane's threads, not all.
const YIELDING_PER_ENDPOINT: usize = 1;

/// How long a crowd may keep the attempts in the yielding lane. One that lasts longer is no
/// burst but the server's load: the attempts go back to the steady lane, at the server's
/// priority, so that the webhooks get their share of a server that stays that busy rather
/// than fall further behind for as long as it does.
pub const YIELD_AT_MOST: Duration = Duration::from_secs(30);

/// Webhook attempts made so far, by lane (for metrics).
#[derive(Debug, Default)]
pub struct Attempts {
    /// By the steady lane's senders.
    pub steady: AtomicU64,
    /// By the yielding lane's, while callers crowded the writer.
    pub yielding: AtomicU64,
    /// Endpoints held to one attempt at a time at the last claim, by why (`allocation`).
    pub held: super::allocation::Held,
}

/// An attempt's outcome, to be recorded.
type Outcome = (Claimed, Sent);

/// The two lanes of senders, the endpoints' share of them (`allocation`), and the yielding
/// lane's outcomes on their way to the writer.
pub(super) struct Pool {
    steady: Lane,
    yielding: Lane,
    /// The yielding lane's threads that did lower themselves (on Linux, when the seccomp
    /// filter allows it): without one, that lane would not yield.
    lowered: Arc<AtomicUsize>,
    allocation: Arc<Allocation>,
    relayed: Arc<Mutex<Vec<Outcome>>>,
    store: Store,
    settings: Arc<WebhookSettings>,
    attempts: Arc<Attempts>,
}

/// Which lane takes a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Steady,
    Yielding,
}

/// Sender threads of one priority, and their queue.
struct Lane {
    jobs: Arc<Jobs>,
    threads: Vec<JoinHandle<()>>,
}

/// Where the next claim goes, and its limits.
pub(super) struct Claim<'p> {
    lane: &'p Lane,
    kind: Kind,
    /// Senders of the lane free to take an attempt.
    pub free: usize,
    /// Attempts in flight at once to one trusted endpoint.
    per_endpoint: usize,
}

impl Claim<'_> {
    /// True for a claim for the senders that yield to a crowd of API writes.
    pub(super) fn yielding(&self) -> bool {
        matches!(self.kind, Kind::Yielding)
    }
}

/// The yielding lane's threads for `senders` steady ones: a quarter, at least one.
fn yielding_senders(senders: usize) -> usize {
    senders.div_ceil(4).max(1)
}

/// The lane for claims made while the writer has been crowded for `crowded_for` (`None`: it
/// is not): the yielding lane during a burst, if it has a thread that yields; the steady lane
/// otherwise, unless it has no thread at all.
fn pick(crowded_for: Option<Duration>, yielding_yields: bool, steady_has_threads: bool) -> Kind {
    let burst = crowded_for.is_some_and(|d| d < YIELD_AT_MOST);
    if (burst && yielding_yields) || !steady_has_threads {
        Kind::Yielding
    } else {
        Kind::Steady
    }
}

impl Pool {
    /// Starts `settings.senders` steady senders and a quarter as many yielding ones.
    pub(super) fn start(
        store: &Store,
        settings: &Arc<WebhookSettings>,
        notifier: &Arc<Notifier>,
        attempts: &Arc<Attempts>,
    ) -> Pool {
        let allocation = Arc::new(Allocation::new(settings.timeout));
        let relayed: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let lowered = Arc::new(AtomicUsize::new(0));
        let sender = Arc::new(Sender::new(settings));
        let steady_size = settings.senders.max(1);
        let start_lane = |kind: Kind, size: usize| {
            let jobs = Arc::new(Jobs::default());
            let mut threads = Vec::new();
            for i in 0..size {
                let (store, settings, notifier) =
                    (store.clone(), settings.clone(), notifier.clone());
                let (jobs, allocation, sender) = (jobs.clone(), allocation.clone(), sender.clone());
                let (lowered, attempts) = (lowered.clone(), attempts.clone());
                let relayed = relayed.clone();
                // The kernel keeps 15 bytes of a name: `webhook-yield-1` for the tenth on.
                let name = match kind {
                    Kind::Steady => format!("webhook-sender-{i}"),
                    Kind::Yielding => format!("webhook-yield-{i}"),
                };
                let spawned = std::thread::Builder::new().name(name).spawn(move || {
                    let (made, relay) = match kind {
                        Kind::Steady => (&attempts.steady, None),
                        Kind::Yielding => {
                            if priority::lower_this_thread() {
                                lowered.fetch_add(1, Ordering::Relaxed);
                            }
                            (&attempts.yielding, Some(&*relayed))
                        }
                    };
                    let ctx = SenderCtx {
                        store: &store,
                        settings: &settings,
                        notifier: &notifier,
                        jobs: &jobs,
                        allocation: &allocation,
                        sender: &sender,
                        made,
                        relay,
                    };
                    ctx.send_loop();
                });
                match spawned {
                    Ok(t) => threads.push(t),
                    Err(e) => tracing::error!(error = %e, "could not start a webhook sender"),
                }
            }
            // Its size is the threads it has: claims never wait on one that did not start.
            Lane { jobs, threads }
        };
        Pool {
            steady: start_lane(Kind::Steady, steady_size),
            yielding: start_lane(Kind::Yielding, yielding_senders(steady_size)),
            lowered,
            allocation,
            relayed,
            store: store.clone(),
            settings: settings.clone(),
            attempts: attempts.clone(),
        }
    }

    /// Queues the outcomes the yielding senders left, for the writer to record. The worker
    /// calls this before each claim: the claim, queued after them, sees them.
    pub(super) fn record_relayed(&self) {
        let outcomes = std::mem::take(&mut *self.relayed.lock().unwrap_or_else(|p| p.into_inner()));
        for (c, sent) in outcomes {
            record(&self.store, &self.settings, c, sent);
        }
    }

    /// Where the next claim goes, the writer having been crowded for `crowded_for`, and how
    /// much it may take.
    pub(super) fn next_claim(
        &self,
        crowded_for: Option<Duration>,
        per_endpoint: usize,
    ) -> Claim<'_> {
        let kind = pick(
            crowded_for,
            self.lowered.load(Ordering::Relaxed) > 0,
            !self.steady.threads.is_empty(),
        );
        let (lane, per_endpoint) = match kind {
            Kind::Steady => (&self.steady, per_endpoint.max(1)),
            Kind::Yielding => (&self.yielding, YIELDING_PER_ENDPOINT),
        };
        Claim {
            lane,
            kind,
            free: lane.threads.len().saturating_sub(lane.jobs.in_flight()),
            per_endpoint,
        }
    }

    /// How much of each endpoint's due deliveries the claim may take, at this moment.
    pub(super) fn plan(&self, claim: &Claim<'_>) -> Plan {
        let plan = self
            .allocation
            .plan(claim.kind, claim.lane.threads.len(), claim.per_endpoint);
        plan.count_held(&self.attempts.held);
        plan
    }

    /// Hands what a claim made with `plan` took to its lane's senders.
    pub(super) fn hand_over(&self, claim: &Claim<'_>, batch: Vec<Claimed>, plan: &Plan) {
        self.allocation.started(claim.kind, &batch, plan);
        for c in batch {
            claim.lane.jobs.push(c);
        }
    }

    /// Lets attempts in flight finish for a few seconds, then abandons the rest, and queues
    /// the outcomes the yielding senders left.
    pub(super) fn stop(mut self) {
        self.steady.jobs.close();
        self.yielding.jobs.close();
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut self.steady.threads)
            .into_iter()
            .chain(std::mem::take(&mut self.yielding.threads))
            .collect();
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while Instant::now() < deadline && threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (done, running): (Vec<_>, Vec<_>) = threads.into_iter().partition(|t| t.is_finished());
        for t in done {
            let _ = t.join();
        }
        if !running.is_empty() {
            tracing::warn!(
                abandoned = running.len(),
                "webhook attempts still running at shutdown; they are sent again after the restart"
            );
        }
        self.record_relayed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_go_to_the_yielding_lane_a_long_crowd_or_none_to_the_steady_one() {
        let secs = |s| Some(Duration::from_secs(s));
        // Not crowded: steady.
        assert_eq!(pick(None, true, true), Kind::Steady);
        // A burst: yielding, if the lane yields at all.
        assert_eq!(pick(secs(0), true, true), Kind::Yielding);
        assert_eq!(pick(secs(29), true, true), Kind::Yielding);
        assert_eq!(pick(secs(29), false, true), Kind::Steady);
        // A crowd past `YIELD_AT_MOST` is the server's load, not a burst.
        assert_eq!(pick(Some(YIELD_AT_MOST), true, true), Kind::Steady);
        // A lane without threads takes nothing while the other has some.
        assert_eq!(pick(None, true, false), Kind::Yielding);
        assert_eq!(pick(secs(1), false, false), Kind::Yielding);
    }

    #[test]
    fn a_quarter_as_many_yield_and_at_least_one() {
        assert_eq!(yielding_senders(16), 4);
        assert_eq!(yielding_senders(5), 2);
        assert_eq!(yielding_senders(1), 1);
        assert_eq!(yielding_senders(0), 1);
    }
}
