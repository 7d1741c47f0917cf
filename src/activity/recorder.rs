//! Batched telemetry: audit rows, per-token daily usage, last-used stamps, and the
//! `token.new_ip` / `token.rate_limited` events. A call never waits on a write here; a busy
//! token costs one stamp per flush, not one per call. The records are telemetry: a SIGKILL
//! may lose the last second of them, a graceful stop flushes them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;

use crate::auth::client_ip::ip_text;
use crate::background::Stop;
use crate::clock;
use crate::model::{AccountId, TokenId, UserId};
use crate::store::audit::{self, AuditEntry};
use crate::store::{Store, StoreError, tokens};
use crate::webhooks::events;

/// Records waiting beyond this are dropped (and counted): telemetry must not grow memory.
const QUEUE_CAPACITY: usize = 50_000;
/// A batch is written at least this often.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// A batch this large is written at once, without waiting for the interval.
const FLUSH_AT: usize = 5_000;
/// The most records one write carries while other writes wait (see `flush`).
const WRITE_CHUNK: usize = 256;
/// The most records one write carries when the writer has nothing else queued. Each commit
/// writes every page its rows touch and waits for the disk: under point reads alone, commits
/// of 256 rows kept the writer busy 2.5-3.0 s in 8, of 1,024 rows 1.7-1.9 s (a write of 5,000
/// saved little more; measured while an index by token still put each write's rows on a leaf
/// per busy token, which migration V9 replaced).
/// A write of this size takes ~6 ms of the writer's time: the most a write arriving while it
/// runs waits for it.
const IDLE_WRITE_CHUNK: usize = 1024;
/// An address unseen for this long counts as new for `token.new_ip`.
const NEW_IP_WINDOW_MS: i64 = 30 * 86_400_000;
/// `token.rate_limited` goes out at most this often per token.
const RATE_LIMITED_EVENT_EVERY: Duration = Duration::from_secs(3_600);

/// One `/api/v1` call, as the middleware saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// When it started (ms).
    pub at: i64,
    /// The token, when identified: (id, prefix, user, account).
    pub token: Option<(TokenId, String, UserId, AccountId)>,
    /// Whether the guard let the call through (a stamp and a "seen from" count only then).
    pub admitted: bool,
    /// Whether the token's own rate limit refused it.
    pub rate_limited: bool,
    /// Method.
    pub method: Cow<'static, str>,
    /// Path, without the query string.
    pub path: String,
    /// Answer status.
    pub status: u16,
    /// Problem code of an error answer.
    pub code: Option<&'static str>,
    /// Caller address.
    pub ip: Option<IpAddr>,
    /// Time to answer (µs).
    pub latency_us: i64,
}

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Records taken.
    pub recorded: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Batches written.
    pub flushes: AtomicU64,
    /// Records written (or given up on after a failed write).
    pub written: AtomicU64,
    /// Last-used stamps written.
    pub stamps_written: AtomicU64,
}

/// The records waiting for the next flush. A call appends under a lock held for a push and
/// wakes nobody (the flusher sleeps until its interval is up): waking a thread per call
/// costs two context switches, which on one core was a quarter of a point read.
#[derive(Default)]
struct Queue {
    records: Mutex<Vec<CallRecord>>,
    /// Signalled when the queue reaches `FLUSH_AT`.
    large: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Vec<CallRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending side, shared by the middleware.
#[derive(Clone)]
pub struct Recorder {
    queue: Arc<Queue>,
    stats: Arc<RecorderStats>,
}

/// The receiving side, for the flusher thread.
pub struct Records {
    queue: Arc<Queue>,
}

impl Recorder {
    /// Creates the recorder and the receiving end for the flusher thread.
    pub fn new() -> (Recorder, Records) {
        let queue = Arc::new(Queue::default());
        (
            Recorder {
                queue: queue.clone(),
                stats: Arc::new(RecorderStats::default()),
            },
            Records { queue },
        )
    }

    /// Takes a record without ever blocking the caller on a write.
    pub fn record(&self, r: CallRecord) {
        let mut records = self.queue.lock();
        if records.len() >= QUEUE_CAPACITY {
            drop(records);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        records.push(r);
        let large = records.len() == FLUSH_AT;
        drop(records);
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        if large {
            self.queue.large.notify_one();
        }
    }

    /// Records waiting for the next flush, and the most that may wait.
    pub fn queued(&self) -> (usize, usize) {
        (self.queue.lock().len(), QUEUE_CAPACITY)
    }

    /// The counters.
    pub fn stats(&self) -> Arc<RecorderStats> {
        self.stats.clone()
    }
}

impl Records {
    /// Has `stop` end the flusher's wait for its next batch.
    fn wake_on(&self, stop: &Stop) {
        let queue = self.queue.clone();
        stop.on_stop(move || {
            // Under the lock the flusher holds while it looks at the signal, before each wait.
            let _held = queue.lock();
            queue.large.notify_all();
        });
    }

    /// Waits until `deadline`, a large queue or `stop` (which wakes the wait: `run_flusher`
    /// asks it to), then takes everything queued.
    fn next_batch(&self, deadline: Instant, stop: &Stop) -> Vec<CallRecord> {
        let mut records = self.queue.lock();
        loop {
            let now = Instant::now();
            if now >= deadline || records.len() >= FLUSH_AT || stop.is_stopped() {
                return std::mem::take(&mut *records);
            }
            let wait = deadline - now;
            records = self
                .queue
                .large
                .wait_timeout(records, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The flusher thread's loop: collect for up to a second (or until `FLUSH_AT` records
/// wait), write one batch, repeat; a last flush when stopping.
pub fn run_flusher(store: &Store, records: &Records, stats: &RecorderStats, stop: &Stop) {
    records.wake_on(stop);
    let mut limited_notified: HashMap<TokenId, Instant> = HashMap::new();
    loop {
        let deadline = Instant::now() + FLUSH_INTERVAL;
        let batch = records.next_batch(deadline, stop);
        if !batch.is_empty() {
            flush(store, batch, stats, &mut limited_notified);
        }
        limited_notified.retain(|_, at| at.elapsed() < RATE_LIMITED_EVENT_EVERY);
        if stop.is_stopped() {
            // One more look: records taken by calls that were finishing while we wrote.
            let rest = std::mem::take(&mut *records.queue.lock());
            if !rest.is_empty() {
                flush(store, rest, stats, &mut limited_notified);
            }
            return;
        }
    }
}

/// Writes a batch: its audit rows in writes of at most `WRITE_CHUNK` rows each while other
/// writes wait (the writer commits API writes between them, so a second's worth of rows,
/// thousands under load, never holds a create back for the tens of milliseconds one large
/// write would take), of `IDLE_WRITE_CHUNK` when none does, and what the batch adds up to
/// (`Tally`) once, with the last of them.
///
/// Only the last write is waited for until it commits; the others only until they have run.
/// So a batch's writes share one commit unless something else commits between them (a write
/// someone waits for, or the writer's `DEFER` running out). Under 8 s of point reads, a
/// commit per write of 1,024 rows kept the writer busy 1.22-1.32 s, 0.71-0.83 s of it
/// committing; sharing them, 0.97-1.08 s and 0.33-0.43 s. Should the transaction be lost
/// before it commits, the writer logs it, as it would for the last write.
fn flush(
    store: &Store,
    batch: Vec<CallRecord>,
    stats: &RecorderStats,
    limited_notified: &mut HashMap<TokenId, Instant>,
) {
    let mut tally = Some(Tally::of(&batch, limited_notified));
    let mut entries = batch.into_iter().map(audit_entry);
    loop {
        let size = if store.writer().is_idle() {
            IDLE_WRITE_CHUNK
        } else {
            WRITE_CHUNK
        };
        let chunk: Vec<AuditEntry> = entries.by_ref().take(size).collect();
        let last = entries.len() == 0;
        let with = if last { tally.take() } else { None };
        let n = chunk.len() as u64;
        let write = move |tx: &Connection| {
            audit::insert_many(tx, &chunk)?;
            with.map_or(Ok(0), |t| t.write(tx))
        };
        let result = if last {
            store.writer().write_blocking(write)
        } else {
            store.writer().write_uncommitted(write)
        };
        match result {
            Ok(stamps) => {
                stats.flushes.fetch_add(1, Ordering::Relaxed);
                stats.stamps_written.fetch_add(stamps, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not write a batch of call records"),
        }
        stats.written.fetch_add(n, Ordering::Relaxed);
        if last {
            return;
        }
    }
}

fn audit_entry(r: CallRecord) -> AuditEntry {
    let (account_id, token_id, token_prefix, user_id) = match r.token {
        Some((id, prefix, user, account)) => (Some(account), Some(id), Some(prefix), Some(user)),
        None => (None, None, None, None),
    };
    AuditEntry {
        id: 0,
        at: r.at,
        account_id,
        token_id,
        token_prefix,
        user_id,
        method: r.method,
        path: r.path,
        status: r.status,
        code: r.code.map(str::to_owned),
        ip: ip_string(r.ip),
        latency_us: r.latency_us,
    }
}

/// An address as the audit and the stamps store it: empty when none was known.
fn ip_string(ip: Option<IpAddr>) -> String {
    ip.map(ip_text).unwrap_or_default()
}

const DAY_MS: i64 = 86_400_000;

/// A map looked up for every call of a flush, three times a call: hashed with foldhash, where
/// SipHash was 1% of a point read's instructions.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What a batch of calls adds up to beyond its audit rows. Written once per flush: a busy
/// token costs one usage update, one address check and one last-used stamp per flush,
/// however many calls and audit writes the flush holds.
#[derive(Default)]
struct Tally {
    /// (token, UTC day number) -> (requests, errors, rate limited)
    usage: FastMap<(TokenId, i64), (i64, i64, i64)>,
    /// token -> (latest admitted call, its address)
    last_used: FastMap<TokenId, (i64, Option<IpAddr>)>,
    /// (token, address) -> (first admitted call from there, account)
    seen: FastMap<(TokenId, Option<IpAddr>), (i64, AccountId)>,
    /// Tokens whose limit refused a call and that were not announced within the hour.
    limited: Vec<(TokenId, AccountId, String)>,
}

impl Tally {
    fn of(batch: &[CallRecord], limited_notified: &mut HashMap<TokenId, Instant>) -> Tally {
        let mut t = Tally::default();
        for r in batch {
            let Some((id, prefix, _, account)) = &r.token else {
                continue;
            };
            let counts = t.usage.entry((*id, r.at.div_euclid(DAY_MS))).or_default();
            counts.0 += 1;
            if r.status == 429 {
                counts.2 += 1;
            } else if r.status >= 400 {
                counts.1 += 1;
            }
            if r.admitted {
                match t.last_used.get_mut(id) {
                    Some(e) if r.at >= e.0 => *e = (r.at, r.ip),
                    Some(_) => {}
                    None => {
                        t.last_used.insert(*id, (r.at, r.ip));
                    }
                }
                t.seen.entry((*id, r.ip)).or_insert((r.at, *account));
            }
            if r.rate_limited
                && limited_notified
                    .get(id)
                    .is_none_or(|at| at.elapsed() >= RATE_LIMITED_EVENT_EVERY)
            {
                limited_notified.insert(*id, Instant::now());
                t.limited.push((*id, *account, prefix.clone()));
            }
        }
        t
    }

    /// Writes the counters, addresses, stamps and events; returns the stamps written.
    fn write(self, tx: &Connection) -> Result<u64, StoreError> {
        for ((id, day), (n, errors, limited)) in &self.usage {
            let day = &clock::format_ms(day * DAY_MS)[..10];
            audit::add_usage(tx, *id, day, *n, *errors, *limited)?;
        }
        for ((id, ip), (at, account)) in &self.seen {
            let ip = ip_string(*ip);
            if audit::note_ip(tx, *id, &ip, *at, NEW_IP_WINDOW_MS)? {
                let token = tokens::find_by_id(tx, *id)?;
                let prefix = token.as_ref().map(|t| t.prefix.clone());
                events::enqueue(
                    tx,
                    *account,
                    "token.new_ip",
                    json!({ "token_id": id, "prefix": prefix, "ip": ip,
                    "seen_at": clock::format_ms(*at) }),
                )?;
            }
        }
        for (id, (at, ip)) in &self.last_used {
            tokens::stamp_last_used(tx, *id, *at, &ip_string(*ip))?;
        }
        for (id, account, prefix) in &self.limited {
            events::enqueue(
                tx,
                *account,
                "token.rate_limited",
                json!({ "token_id": id, "prefix": prefix,
                "at": clock::format_ms(clock::now_ms()) }),
            )?;
        }
        Ok(self.last_used.len() as u64)
    }
}

#[cfg(test)]
mod tests;
