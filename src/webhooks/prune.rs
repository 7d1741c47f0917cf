//! The outbox's upkeep, on a thread of its own: old finished deliveries (and their attempts),
//! then the events left without any, then expired idempotency answers, in writes of a bounded
//! size. After a burst (an import a retention period ago) or a lowered retention, a pass may
//! have hundreds of thousands of rows to delete: in one write, every API write waited behind
//! it (2.6 s for 477,000 deliveries and their events); on the delivery worker's thread, no
//! delivery was claimed until it ended.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::WebhookSettings;
use crate::clock;
use crate::store::{Store, StoreError, deliveries, idempotency};

/// How long an idempotency key's answer is kept.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3_600_000;

/// The ids one write of deliveries or events walks: at most this many rows, and a dead
/// delivery's attempts (eight with the default schedule) with each.
pub const WINDOW: i64 = 1_000;

/// The most idempotency answers one write deletes.
const KEYS_PER_WRITE: usize = 1_000;

/// What a pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Deliveries (their attempts went with them).
    pub deliveries: usize,
    /// Events.
    pub events: usize,
    /// Idempotency answers.
    pub keys: usize,
}

/// Runs a pass at start, then every `settings.prune_interval`, until `stop` is set.
pub fn run(store: &Store, settings: &WebhookSettings, stop: &AtomicBool) {
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            let mut pruned = Pruned::default();
            match pass(store, settings.retention, WINDOW, stop, &mut pruned) {
                Ok(()) if pruned == Pruned::default() => {}
                Ok(()) => tracing::info!(
                    deliveries = pruned.deliveries,
                    events = pruned.events,
                    idempotency_keys = pruned.keys,
                    "pruned old webhook rows"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    deliveries = pruned.deliveries,
                    events = pruned.events,
                    idempotency_keys = pruned.keys,
                    "the prune of old webhook rows stopped"
                ),
            }
            next = Instant::now() + settings.prune_interval;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One pass: deletes what is older than `retention`, walking `window` ids a write, and counts
/// it in `pruned` as it goes. Returns early, with what it did, when `stop` is set.
pub fn pass(
    store: &Store,
    retention: Duration,
    window: i64,
    stop: &AtomicBool,
    pruned: &mut Pruned,
) -> Result<(), StoreError> {
    let writer = store.writer();
    let now = clock::now_ms();
    let before = now - retention.as_millis() as i64;
    let runs = writer.write_blocking(move |c| deliveries::old_runs(c, before, now))?;
    // The deliveries first: an event goes once none of its own is left.
    for ids in windows(runs.deliveries, window) {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        pruned.deliveries +=
            writer.write_blocking(move |c| deliveries::prune_deliveries(c, before, ids))?;
    }
    for ids in windows(runs.events, window) {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        pruned.events +=
            writer.write_blocking(move |c| deliveries::prune_events(c, before, ids))?;
    }
    let expired = now - IDEMPOTENCY_TTL_MS;
    while !stop.load(Ordering::SeqCst) {
        let n = writer.write_blocking(move |c| idempotency::prune(c, expired, KEYS_PER_WRITE))?;
        pruned.keys += n;
        if n < KEYS_PER_WRITE {
            break;
        }
    }
    Ok(())
}

/// `ids` cut into windows of `size`, in order.
fn windows(ids: Range<i64>, size: i64) -> impl Iterator<Item = Range<i64>> {
    let size = size.max(1);
    let end = ids.end;
    (ids.start..ids.end)
        .step_by(size as usize)
        .map(move |start| start..start.saturating_add(size).min(end))
}

#[cfg(test)]
mod tests;
