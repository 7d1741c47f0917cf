//! The outbox's upkeep, on a thread of its own: old finished deliveries (and their attempts),
//! then the events left without any, then expired idempotency answers, in writes of a bounded
//! size. After a burst (an import a retention period ago) or a lowered retention, a pass may
//! have hundreds of thousands of rows to delete: in one write, every API write waited behind
//! it (2.6 s for 477,000 deliveries and their events); on the delivery worker's thread, no
//! delivery was claimed until it ended.

use std::time::{Duration, Instant};

use super::WebhookSettings;
use crate::background::Stop;
use crate::clock;
use crate::store::deliveries::{self, PruneStep};
use crate::store::{Store, StoreError, idempotency};

/// The rows one write of deliveries or events walks at most. A delivery's attempts go with
/// it: one a try, so up to the retry schedule's steps plus one (eight by default), again after
/// each requeue.
pub const WINDOW: usize = 1_000;

/// The most idempotency answers one write deletes.
const KEYS_PER_WRITE: usize = 1_000;

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Deliveries deleted (their attempts went with them).
    pub deliveries: usize,
    /// Events deleted.
    pub events: usize,
    /// Idempotency answers deleted.
    pub keys: usize,
    /// Writes made.
    pub writes: usize,
}

/// How a pass ended.
#[derive(Debug)]
pub enum Ended {
    /// Everything old is gone.
    Done,
    /// The server is stopping.
    Stopped,
    /// A write failed: the outbox's (the answers' were still pruned), or the answers'.
    Failed(StoreError),
}

/// Runs a pass at start, then every `settings.prune_interval`, until the server stops.
pub fn run(store: &Store, settings: &WebhookSettings, stop: &Stop) {
    stop.repeat(|| {
        let started = Instant::now();
        let mut pruned = Pruned::default();
        let ended = pass(store, settings.retention, WINDOW, stop, &mut pruned);
        let (deliveries, events, keys) = (pruned.deliveries, pruned.events, pruned.keys);
        let (writes, took_ms) = (pruned.writes, started.elapsed().as_millis() as u64);
        match ended {
            Ended::Done if deliveries + events + keys == 0 => {}
            Ended::Done | Ended::Stopped => tracing::info!(
                deliveries,
                events,
                idempotency_keys = keys,
                writes,
                took_ms,
                stopped_with_the_server = matches!(ended, Ended::Stopped),
                "pruned old webhook rows"
            ),
            Ended::Failed(e) => tracing::warn!(
                error = %e, deliveries, events, idempotency_keys = keys, writes, took_ms,
                "could not prune all old webhook rows"
            ),
        }
        settings.prune_interval
    });
}

/// One pass: deletes what is older than `retention`, walking at most `window` rows a write,
/// and counts it in `pruned` as it goes. The deliveries first (an event goes once none of its
/// own is left), then the events, then the answers, whatever became of the outbox's part.
pub fn pass(
    store: &Store,
    retention: Duration,
    window: usize,
    stop: &Stop,
    pruned: &mut Pruned,
) -> Ended {
    let now = clock::now_ms();
    let before = now - retention.as_millis() as i64;
    let outbox = (|| {
        let gone = walk(store, stop, pruned, move |c, from| {
            deliveries::prune_deliveries(c, before, now, from, window)
        })?;
        pruned.deliveries += gone;
        if stop.is_stopped() {
            return Ok(());
        }
        pruned.events += walk(store, stop, pruned, move |c, from| {
            deliveries::prune_events(c, before, now, from, window)
        })?;
        Ok::<_, StoreError>(())
    })();
    let expired = now - idempotency::TTL_MS;
    let keys = (|| {
        while !stop.is_stopped() {
            let n = store
                .writer()
                .write_blocking(move |c| idempotency::prune(c, expired, KEYS_PER_WRITE))?;
            pruned.keys += n;
            pruned.writes += 1;
            if n < KEYS_PER_WRITE {
                break;
            }
        }
        Ok::<_, StoreError>(())
    })();
    match outbox.and(keys) {
        Err(e) => Ended::Failed(e),
        Ok(()) if stop.is_stopped() => Ended::Stopped,
        Ok(()) => Ended::Done,
    }
}

/// Runs `step` (one write) from the smallest id until a write says the run of old rows is
/// done, or the server stops; returns the rows deleted.
fn walk(
    store: &Store,
    stop: &Stop,
    pruned: &mut Pruned,
    step: impl Fn(&rusqlite::Connection, i64) -> Result<PruneStep, StoreError> + Copy + Send + 'static,
) -> Result<usize, StoreError> {
    let mut deleted = 0;
    let mut from = Some(i64::MIN);
    while let Some(at) = from {
        if stop.is_stopped() {
            break;
        }
        let done = store.writer().write_blocking(move |c| step(c, at))?;
        pruned.writes += 1;
        deleted += done.deleted;
        from = done.next;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests;
