//! Batched telemetry: audit rows, per-token daily usage, last-used stamps, and the
//! `token.new_ip` / `token.rate_limited` events. A call never waits on a write here; a busy
//! token costs one stamp per flush, not one per call. The records are telemetry: a SIGKILL
//! may lose the last second of them, a graceful stop flushes them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;

use crate::clock;
use crate::model::{AccountId, TokenId, UserId};
use crate::store::audit::{self, AuditEntry};
use crate::store::{Store, StoreError, tokens};
use crate::webhooks::events;

/// Records waiting beyond this are dropped (and counted): telemetry must not grow memory.
const QUEUE_CAPACITY: usize = 50_000;
/// A batch is written at least this often.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
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
    pub method: String,
    /// Path, without the query string.
    pub path: String,
    /// Answer status.
    pub status: u16,
    /// Problem code of an error answer.
    pub code: Option<&'static str>,
    /// Caller address.
    pub ip: String,
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

/// The sending side, shared by the middleware.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<CallRecord>,
    stats: Arc<RecorderStats>,
}

impl Recorder {
    /// Creates the recorder and the receiving end for the flusher thread.
    pub fn new() -> (Recorder, Receiver<CallRecord>) {
        let (tx, rx) = sync_channel(QUEUE_CAPACITY);
        (
            Recorder {
                tx,
                stats: Arc::new(RecorderStats::default()),
            },
            rx,
        )
    }

    /// Takes a record without ever blocking the caller.
    pub fn record(&self, r: CallRecord) {
        match self.tx.try_send(r) {
            Ok(()) => self.stats.recorded.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// The counters.
    pub fn stats(&self) -> Arc<RecorderStats> {
        self.stats.clone()
    }
}

/// The flusher thread's loop: collect for up to a second, write one batch, repeat; a last
/// flush when stopping.
pub fn run_flusher(
    store: &Store,
    rx: &Receiver<CallRecord>,
    stats: &RecorderStats,
    stop: &AtomicBool,
) {
    let mut limited_notified: HashMap<TokenId, Instant> = HashMap::new();
    let mut batch = Vec::new();
    let mut deadline = Instant::now() + FLUSH_INTERVAL;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(r) => batch.push(r),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let stopping = stop.load(Ordering::SeqCst);
        if Instant::now() >= deadline || batch.len() >= 5_000 || stopping {
            batch.extend(rx.try_iter());
            if !batch.is_empty() {
                flush(
                    store,
                    std::mem::take(&mut batch),
                    stats,
                    &mut limited_notified,
                );
            }
            deadline = Instant::now() + FLUSH_INTERVAL;
            limited_notified.retain(|_, at| at.elapsed() < RATE_LIMITED_EVENT_EVERY);
        }
        if stopping {
            break;
        }
    }
    let rest: Vec<_> = rx.try_iter().collect();
    if !rest.is_empty() {
        flush(store, rest, stats, &mut limited_notified);
    }
}

fn flush(
    store: &Store,
    batch: Vec<CallRecord>,
    stats: &RecorderStats,
    limited_notified: &mut HashMap<TokenId, Instant>,
) {
    let limited: Vec<(TokenId, AccountId, String)> = batch
        .iter()
        .filter(|r| r.rate_limited)
        .filter_map(|r| {
            r.token
                .as_ref()
                .map(|(id, prefix, _, account)| (*id, *account, prefix.clone()))
        })
        .filter(|(id, _, _)| {
            limited_notified
                .get(id)
                .is_none_or(|at| at.elapsed() >= RATE_LIMITED_EVENT_EVERY)
        })
        .collect();
    for (id, _, _) in &limited {
        limited_notified.insert(*id, Instant::now());
    }
    let n = batch.len() as u64;
    let result = store
        .writer()
        .write_blocking(move |tx| write_batch(tx, &batch, &limited));
    match result {
        Ok(stamps) => {
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            stats.stamps_written.fetch_add(stamps, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(error = %e, "could not write a batch of call records"),
    }
    stats.written.fetch_add(n, Ordering::Relaxed);
}

/// Writes one batch; returns the number of last-used stamps written.
fn write_batch(
    tx: &Connection,
    batch: &[CallRecord],
    limited: &[(TokenId, AccountId, String)],
) -> Result<u64, StoreError> {
    let entries: Vec<AuditEntry> = batch
        .iter()
        .map(|r| AuditEntry {
            id: 0,
            at: r.at,
            account_id: r.token.as_ref().map(|t| t.3),
            token_id: r.token.as_ref().map(|t| t.0),
            token_prefix: r.token.as_ref().map(|t| t.1.clone()),
            user_id: r.token.as_ref().map(|t| t.2),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            code: r.code.map(str::to_owned),
            ip: r.ip.clone(),
            latency_us: r.latency_us,
        })
        .collect();
    audit::insert_many(tx, &entries)?;

    // (token, day) -> (requests, errors, rate limited)
    let mut usage: HashMap<(TokenId, String), (i64, i64, i64)> = HashMap::new();
    // token -> (latest call, its address), for admitted calls only
    let mut last_used: HashMap<TokenId, (i64, &str, AccountId)> = HashMap::new();
    for r in batch {
        let Some((id, _, _, account)) = &r.token else {
            continue;
        };
        let day = clock::format_ms(r.at)[..10].to_owned();
        let counts = usage.entry((*id, day)).or_default();
        counts.0 += 1;
        if r.status == 429 {
            counts.2 += 1;
        } else if r.status >= 400 {
            counts.1 += 1;
        }
        if r.admitted {
            let e = last_used.entry(*id).or_insert((r.at, &r.ip, *account));
            if r.at >= e.0 {
                *e = (r.at, &r.ip, *account);
            }
        }
    }
    for ((id, day), (n, errors, limited)) in &usage {
        audit::add_usage(tx, *id, day, *n, *errors, *limited)?;
    }
    let mut seen: HashMap<(TokenId, &str), (i64, AccountId)> = HashMap::new();
    for r in batch.iter().filter(|r| r.admitted) {
        if let Some((id, _, _, account)) = &r.token {
            seen.entry((*id, r.ip.as_str())).or_insert((r.at, *account));
        }
    }
    for ((id, ip), (at, account)) in seen {
        if audit::note_ip(tx, id, ip, at, NEW_IP_WINDOW_MS)? {
            let token = tokens::find_by_id(tx, id)?;
            let prefix = token.as_ref().map(|t| t.prefix.clone());
            events::enqueue(
                tx,
                account,
                "token.new_ip",
                json!({ "token_id": id, "prefix": prefix, "ip": ip,
                "seen_at": clock::format_ms(at) }),
            )?;
        }
    }
    for (id, (at, ip, _)) in &last_used {
        tokens::stamp_last_used(tx, *id, *at, ip)?;
    }
    for (id, account, prefix) in limited {
        events::enqueue(
            tx,
            *account,
            "token.rate_limited",
            json!({ "token_id": id, "prefix": prefix,
            "at": clock::format_ms(clock::now_ms()) }),
        )?;
    }
    Ok(last_used.len() as u64)
}
