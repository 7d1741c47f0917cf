//! The delivery worker: a thread that makes the deliveries of new events (`store::fanout`),
//! claims due deliveries with a lease in one short transaction and hands them to a bounded
//! pool of sender threads (`pool`), which send outside any transaction and record the
//! outcome in a second one.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::WebhookSettings;
use super::pool::{Attempts, Pool};
use crate::background::Stop;
use crate::clock;
use crate::store::{Store, StoreError};
use crate::store::{deliveries, fanout};

/// How soon the worker looks again when due deliveries may be left unclaimed (a limit held
/// them back, or the last claim's leases were not committed yet) and no sender pokes it.
const IDLE_TICK: Duration = Duration::from_millis(200);
/// How often the deliveries of new events are made (`fanout::BATCH` events at a time) while
/// API writes crowd the server, or while no sender is free; otherwise every claim makes them.
///
/// A burst's webhooks yield to it as its attempts do (`pool`): made at every claim, the
/// deliveries of an 8 s burst of creates went out at ~4,000 a second during it, and their
/// claims and outcomes took the writer's time from the creates. Made at most 1,024 a second,
/// the burst ran 11-14% faster, and its creates and deliveries took the same CPU in all
/// (BENCHMARKS.md): the rest goes out once the burst is over, or after 30 s of it (`pool`).
const FAN_OUT_EVERY: Duration = Duration::from_secs(1);

/// Wakes the worker at once: poked after every commit that queued events, and by every
/// sender that finishes an attempt. Without a lock: the writer pokes it after its commits,
/// and a sender at the lowest priority preempted while it held one would hold the writer up.
#[derive(Debug, Default)]
pub struct Notifier {
    woken: AtomicBool,
    /// The worker's thread, once it runs.
    worker: OnceLock<Thread>,
}

impl Notifier {
    /// Tells the worker there may be new work.
    pub fn notify(&self) {
        self.woken.store(true, Ordering::SeqCst);
        // Paired with the fence in `register`: either the worker's next look at the flag sees
        // this poke, or this sees the worker's thread and wakes it.
        fence(Ordering::SeqCst);
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    /// Makes the calling thread the one that waits: the worker's, before its first wait.
    fn register(&self) {
        self.worker.get_or_init(std::thread::current);
        fence(Ordering::SeqCst);
    }

    /// Waits for a poke or `timeout`; true when poked. Only the registered thread waits.
    fn wait(&self, timeout: Duration) -> bool {
        debug_assert_eq!(
            self.worker.get().map(Thread::id),
            Some(std::thread::current().id())
        );
        let deadline = Instant::now() + timeout;
        loop {
            // A poke before this wait (or before the thread was known) is not lost: the flag
            // holds it.
            if self.woken.swap(false, Ordering::SeqCst) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Returns on an unpark (one that came before it included), at the timeout, or
            // for no reason: the flag says which.
            std::thread::park_timeout(left);
        }
    }
}

/// Runs the worker until the server stops. Call on the `webhook-worker` thread.
pub fn run(
    store: Store,
    settings: WebhookSettings,
    notifier: Arc<Notifier>,
    attempts: Arc<Attempts>,
    stop: &Stop,
) {
    notifier.register();
    // A poke ends the worker's wait; it then finds the signal given.
    let poke = notifier.clone();
    stop.on_stop(move || poke.notify());
    match store.writer().write_blocking(deliveries::release_leases) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            released = n,
            "released the delivery claims of a previous process"
        ),
        Err(e) => tracing::error!(error = %e, "could not release old delivery claims"),
    }
    let settings = Arc::new(settings);
    let pool = Pool::start(&store, &settings, &notifier, &attempts);
    let lease = settings.timeout * 2 + Duration::from_secs(30);
    let mut next_scan = Instant::now();
    let mut fanned_at = Instant::now();
    while !stop.is_stopped() {
        let now = Instant::now();
        let mut claimed_all = true;
        let mut events_left = false;
        // Before any claim: the claim then sees them.
        pool.record_relayed();
        if now >= next_scan {
            match claim(&store, &settings, &pool, lease, &mut fanned_at) {
                Ok(done) => {
                    claimed_all = !done.capped;
                    events_left = done.events_left;
                }
                Err(e) => tracing::error!(error = %e, "could not claim deliveries"),
            }
            // When a limit left due deliveries behind, the next claim follows a sender's poke
            // (or the tick): looking up when the next one falls due would tell nothing, and
            // while a backlog drained it was half the worker's CPU, 7% of the server's.
            next_scan = if claimed_all {
                now + next_wait(&store, &settings)
            } else {
                now
            };
        }
        // With due deliveries left behind, wait for a sender to finish (it pokes us) or the
        // next tick; with events whose deliveries are still to make, go on making them (no
        // sender may be about to poke: their endpoints may be disabled or held).
        let wait = if events_left {
            Duration::ZERO
        } else if claimed_all {
            next_scan.saturating_duration_since(Instant::now())
        } else {
            IDLE_TICK
        };
        if notifier.wait(wait) {
            next_scan = Instant::now();
        }
    }
    pool.stop();
}

/// How long until a retry falls due, bounded by the scan interval.
fn next_wait(store: &Store, settings: &WebhookSettings) -> Duration {
    let due = store.read(deliveries::next_due).ok().flatten();
    match due.map(|at| at - clock::now_ms()) {
        // Due now by the committed state, which may not hold the last claim's leases yet (see
        // `Writer::write_uncommitted`): look again at the next tick, or when a sender pokes.
        Some(ms) if ms <= 0 => IDLE_TICK,
        Some(ms) => Duration::from_millis(ms as u64).min(settings.scan_interval),
        None => settings.scan_interval,
    }
}

/// What a claim left.
struct ClaimDone {
    /// A limit (free senders, an endpoint's share of them), or deliveries not made yet, may
    /// have left due deliveries unclaimed.
    capped: bool,
    /// The fan-out stopped at its limit: events are left whose deliveries are to make now.
    events_left: bool,
}

/// Makes the deliveries of new events, when it is their time (`FAN_OUT_EVERY`), then claims
/// what the free senders of the lane the writer's state picks can take, as the endpoints'
/// standing allows (`allocation`), and hands it to them.
fn claim(
    store: &Store,
    settings: &WebhookSettings,
    pool: &Pool,
    lease: Duration,
    fanned_at: &mut Instant,
) -> Result<ClaimDone, StoreError> {
    let next = pool.next_claim(store.writer().crowded_for(), settings.per_endpoint);
    let fan = !next.yielding() || fanned_at.elapsed() >= FAN_OUT_EVERY;
    if next.free == 0 {
        let mut events_left = false;
        if fanned_at.elapsed() >= FAN_OUT_EVERY {
            *fanned_at = Instant::now();
            // Committed with the writes that follow, as the claims are (see below).
            events_left = store
                .writer()
                .write_uncommitted(|c| fanout::fan_out(c, fanout::BATCH, clock::now_ms()))?
                .more;
        }
        return Ok(ClaimDone {
            capped: true,
            events_left,
        });
    }
    let (free, mut plan) = (next.free, pool.plan(&next));
    let lease_ms = lease.as_millis() as i64;
    // Sent as soon as leased, without waiting for the lease's commit (see
    // `Writer::write_uncommitted`): a refill of the senders would otherwise wait for the disk,
    // which bounded the draining of a backlog. The lease keeps this process from claiming the
    // delivery twice (the claim runs on the writer, after every queued outcome) and tells the
    // CLI it is being sent; a restart voids leases anyway, and sending is at least once.
    // The deliveries of the events queued since are made in the claim's write, when it is
    // their time (`FAN_OUT_EVERY`); when it is not, events may be waiting, so the claim counts
    // as one a limit cut short.
    if fan {
        *fanned_at = Instant::now();
    }
    let (batch, done, plan) = store.writer().write_uncommitted(move |c| {
        let now = clock::now_ms();
        // A fan-out that fails (a full disk) is undone alone: the deliveries already made
        // are still claimed and sent.
        let more = fan
            && match fanout::fan_out_alone(c, fanout::BATCH, now) {
                Ok(step) => step.more,
                Err(e) => {
                    tracing::error!(error = %e, "could not make webhook deliveries from their events");
                    false
                }
            };
        let (batch, capped) = deliveries::claim(c, now, now + lease_ms, free, &mut plan)?;
        let done = ClaimDone {
            capped: capped || more || !fan,
            events_left: more,
        };
        Ok::<_, StoreError>((batch, done, plan))
    })?;
    pool.hand_over(&next, batch, &plan);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poke_wakes_the_worker_whether_it_comes_before_or_during_its_wait() {
        // Before the worker's thread is even known.
        let early = Notifier::default();
        early.notify();
        early.register();
        assert!(early.wait(Duration::ZERO));

        let n = Arc::new(Notifier::default());
        n.register();
        assert!(!n.wait(Duration::from_millis(1)), "no poke yet");
        n.notify();
        assert!(n.wait(Duration::from_secs(30)), "a poke before the wait");
        assert!(!n.wait(Duration::ZERO), "the last wait took it");
        // From another thread, before or during the wait: either way it is not lost (a lost
        // one would show as `false`, 30 s on).
        let poker = {
            let n = n.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                n.notify();
            })
        };
        assert!(n.wait(Duration::from_secs(30)), "a poke during the wait");
        poker.join().unwrap();
    }
}
