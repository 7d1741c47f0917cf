//! The delivery worker: a thread that claims due deliveries with a lease in one short
//! transaction and hands them to a bounded pool of sender threads, which send outside any
//! transaction and record the outcome in a second one.
//!
//! The senders form two lanes. While the writer is crowded (`Writer::crowded`: callers queue
//! up behind its commits, as under an import script's burst) the worker hands what it claims
//! to a few senders at the lowest scheduling priority (`priority`), one attempt per endpoint
//! at a time, and they take the time the request path leaves; the rest of the time, to the
//! others, at the server's priority. Under a burst of creates on one core, attempts at the
//! server's priority took 8.5% of the processor and delivered a tenth of the burst's events
//! while it lasted; the rest went out after it anyway. At nice 19 for good, a backlog's drain
//! cost 20% more processor time per delivery: every wake-up of the writer or the worker
//! preempted a sender mid-attempt. The outbox makes the wait safe: a delivery is durable from
//! its change's commit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::WebhookSettings;
use super::sender::Sender;
use super::{outcome, priority};
use crate::clock;
use crate::model::EndpointId;
use crate::store::deliveries::{self, Claimed};
use crate::store::{Store, StoreError, idempotency};

/// The longest the worker sleeps before looking at its stop flag again.
const IDLE_TICK: Duration = Duration::from_millis(200);
/// How long shutdown waits for attempts in flight before abandoning them (their leases are
/// released at the next start, so they are sent again then).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long an idempotency key's answer is kept.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3_600_000;

/// Wakes the worker at once: poked after every commit that queued events.
#[derive(Debug, Default)]
pub struct Notifier {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Notifier {
    /// Tells the worker there may be new work.
    pub fn notify(&self) {
        *self.woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_one();
    }

    /// Waits for a poke or `timeout`; true when poked.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |woken| !*woken)
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *guard)
    }
}

/// Attempts in flight, per endpoint.
type Busy = Arc<Mutex<HashMap<EndpointId, usize>>>;

/// The sender threads, in two lanes, and the attempts in flight per endpoint across both.
struct Pool {
    /// Takes the attempts claimed while the writer is not crowded.
    steady: Lane,
    /// Takes the attempts claimed while it is: its threads run at the lowest priority.
    yielding: Lane,
    busy: Busy,
}

/// Attempts in flight at once to one endpoint while the writer is crowded (else
/// `WebhookSettings::per_endpoint`). Under a burst of creates on one core, one attempt at a
/// time against four gave as many creates a second and a p99 as short (3 A/B pairs); the
/// backlog goes out after the burst either way.
const YIELDING_PER_ENDPOINT: usize = 1;

/// Sender threads of one priority, and their queue.
struct Lane {
    jobs: Arc<Jobs>,
    threads: Vec<JoinHandle<()>>,
}

/// The yielding lane's threads for `senders` steady ones: a quarter, at least one. The lane
/// takes one attempt per endpoint at a time (`YIELDING_PER_ENDPOINT`), so a slow receiver,
/// whose attempts wait on the network at any priority, holds one of its threads, not all.
fn yielding_senders(senders: usize) -> usize {
    senders.div_ceil(4).max(1)
}

/// Claimed deliveries on their way to the senders. A sender holds the lock only to take one,
/// never while it waits: with the senders sharing a `Mutex<Receiver>`, the one holding it
/// waited in `recv` and the others queued on the lock, and spinning on it was 7% of the
/// server's CPU while a backlog drained. Never longer than its lane's senders are many: the
/// worker claims only what that lane's free senders can take.
#[derive(Default)]
struct Jobs {
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
    fn push(&self, c: Claimed) {
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
    fn done(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Jobs pushed and not yet done.
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// No more jobs: the senders finish what waits, then stop.
    fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// The next job; `None` once closed and empty.
    fn take(&self) -> Option<Claimed> {
        let guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut queue = self
            .ready
            .wait_while(guard, |q| q.waiting.is_empty() && !q.closed)
            .unwrap_or_else(|p| p.into_inner());
        queue.waiting.pop_front()
    }
}

/// Runs the worker until `stop` is set. Call on the `webhook-worker` thread.
pub fn run(store: Store, settings: WebhookSettings, notifier: Arc<Notifier>, stop: &AtomicBool) {
    match store.writer().write_blocking(deliveries::release_leases) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            released = n,
            "released the delivery claims of a previous process"
        ),
        Err(e) => tracing::error!(error = %e, "could not release old delivery claims"),
    }
    let settings = Arc::new(settings);
    let pool = start_pool(&store, &settings, &notifier);
    let lease = settings.timeout * 2 + Duration::from_secs(30);
    let mut next_scan = Instant::now();
    let mut next_prune = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= next_prune {
            prune(&store, &settings);
            next_prune = now + settings.prune_interval;
        }
        let mut claimed_all = true;
        if now >= next_scan {
            match claim(&store, &settings, &pool, lease) {
                Ok(capped) => claimed_all = !capped,
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
        // next tick.
        let wait = if claimed_all {
            next_scan.saturating_duration_since(Instant::now())
        } else {
            IDLE_TICK
        };
        if notifier.wait(wait.min(IDLE_TICK)) {
            next_scan = Instant::now();
        }
    }
    stop_pool(pool);
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

/// Claims what the free senders of the lane the writer's state picks can take, and hands it
/// to them; true when a limit (free senders, or an endpoint's deliveries in flight) may have
/// left due deliveries unclaimed.
fn claim(
    store: &Store,
    settings: &WebhookSettings,
    pool: &Pool,
    lease: Duration,
) -> Result<bool, StoreError> {
    // A lane without threads (none could be started) takes nothing.
    let (lane, per_endpoint) = if store.writer().crowded() && !pool.yielding.threads.is_empty() {
        (&pool.yielding, YIELDING_PER_ENDPOINT)
    } else {
        (&pool.steady, settings.per_endpoint.max(1))
    };
    let free = lane.threads.len().saturating_sub(lane.jobs.in_flight());
    if free == 0 {
        return Ok(true);
    }
    let busy = pool.busy.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let lease_ms = lease.as_millis() as i64;
    // Sent as soon as leased, without waiting for the lease's commit (see
    // `Writer::write_uncommitted`): a refill of the senders would otherwise wait for the disk,
    // which bounded the draining of a backlog. The lease keeps this process from claiming the
    // delivery twice (the claim runs on the writer, after every queued outcome) and tells the
    // CLI it is being sent; a restart voids leases anyway, and sending is at least once.
    let (batch, capped) = store.writer().write_uncommitted(move |c| {
        let now = clock::now_ms();
        deliveries::claim(c, now, now + lease_ms, free, per_endpoint, &busy)
    })?;
    let mut busy = pool.busy.lock().unwrap_or_else(|p| p.into_inner());
    for c in &batch {
        *busy.entry(c.endpoint_id).or_default() += 1;
    }
    drop(busy);
    for c in batch {
        lane.jobs.push(c);
    }
    Ok(capped)
}

fn start_pool(store: &Store, settings: &Arc<WebhookSettings>, notifier: &Arc<Notifier>) -> Pool {
    let busy: Busy = Arc::default();
    let sender = Arc::new(Sender::new(settings));
    let steady_size = settings.senders.max(1);
    let start_lane = |size: usize, yielding: bool| {
        let jobs = Arc::new(Jobs::default());
        let mut threads = Vec::new();
        for i in 0..size {
            let (store, settings, notifier) = (store.clone(), settings.clone(), notifier.clone());
            let (jobs, busy, sender) = (jobs.clone(), busy.clone(), sender.clone());
            // The kernel keeps 15 bytes of a name: `webhook-yield-1` for the tenth and later.
            let name = if yielding {
                format!("webhook-yield-{i}")
            } else {
                format!("webhook-sender-{i}")
            };
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                if yielding {
                    priority::lower_this_thread();
                }
                send_loop(&store, &settings, &notifier, &jobs, &busy, &sender)
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => tracing::error!(error = %e, "could not start a webhook sender"),
            }
        }
        // Its size is the threads it has: claims never wait on one that did not start.
        Lane { jobs, threads }
    };
    let steady = start_lane(steady_size, false);
    let yielding = start_lane(yielding_senders(steady_size), true);
    Pool {
        steady,
        yielding,
        busy,
    }
}

fn send_loop(
    store: &Store,
    settings: &Arc<WebhookSettings>,
    notifier: &Notifier,
    jobs: &Jobs,
    busy: &Busy,
    sender: &Sender,
) {
    while let Some(c) = jobs.take() {
        let sent = sender.send(&c);
        tracing::debug!(delivery = c.id, endpoint = %c.endpoint_id, status = ?sent.attempt.status,
            latency_ms = sent.attempt.latency_ms, "webhook attempt");
        // The outcome is queued, not waited for: the worker's next claim, queued after it,
        // runs after it in the same transaction or a later one and so sees it, and the
        // sender's slot is free a commit sooner. Until the outcome commits the delivery stays
        // leased; a failure leaves it to be sent again when the lease runs out (or at the next
        // start).
        let (record, s, id) = (c.clone(), settings.clone(), c.id);
        let queued = store.writer().submit(move |conn| {
            let result = outcome::record(conn, &record, &sent, &s);
            if let Err(e) = &result {
                tracing::error!(delivery = id, error = %e, "could not record a webhook attempt");
            }
            result
        });
        if let Err(e) = queued {
            tracing::error!(delivery = c.id, error = %e, "could not record a webhook attempt");
        }
        let mut b = busy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = b.get_mut(&c.endpoint_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                b.remove(&c.endpoint_id);
            }
        }
        drop(b);
        jobs.done();
        notifier.notify();
    }
}

/// Lets attempts in flight finish for a few seconds, then abandons the rest.
fn stop_pool(pool: Pool) {
    pool.steady.jobs.close();
    pool.yielding.jobs.close();
    let threads: Vec<JoinHandle<()>> = pool
        .steady
        .threads
        .into_iter()
        .chain(pool.yielding.threads)
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
}

fn prune(store: &Store, settings: &WebhookSettings) {
    let keep_ms = settings.retention.as_millis() as i64;
    let result = store.writer().write_blocking(move |c| {
        let now = clock::now_ms();
        let deliveries = deliveries::prune(c, now - keep_ms)?;
        let keys = idempotency::prune(c, now - IDEMPOTENCY_TTL_MS)?;
        Ok::<_, StoreError>((deliveries, keys))
    });
    match result {
        Ok((0, 0)) => {}
        Ok((d, k)) => tracing::info!(deliveries = d, idempotency_keys = k, "pruned old rows"),
        Err(e) => tracing::warn!(error = %e, "could not prune old webhook rows"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64) -> Claimed {
        Claimed {
            id,
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
