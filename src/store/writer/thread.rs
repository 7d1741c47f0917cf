//! The writer thread's loop: it takes queued writes in batches, runs them, and commits at
//! once or, when nobody waits on them, defers the commit (`DEFER`); it starts the WAL over
//! when the checkpointer asks.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::batch::Txn;
use super::{Counters, EVENTS_QUEUED, EventsHook, Job, MAX_BATCH, wal};

pub(super) fn run(
    conn: Connection,
    rx: Receiver<Job>,
    defer: Duration,
    on_events: &OnceLock<EventsHook>,
    stats: &Counters,
) {
    // After `wal_autocheckpoint`, which replaces any WAL hook.
    conn.wal_hook(Some(wal::note_pages));
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut restart_tries = 0;
    let mut file_limit = wal::FileLimit::default();
    // A transaction whose writes nobody waits on, left open for the next batches, and when
    // it commits at the latest (see `DEFER`).
    let mut deferred: Option<(Txn<'_>, Instant)> = None;
    loop {
        let next = match &deferred {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some((_, due)) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        let first = match next {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if let Some((txn, _)) = deferred.take() {
                    let started = Instant::now();
                    commit(txn, on_events, stats, None);
                    stats
                        .busy_us
                        .fetch_add(micros_since(started), Ordering::Relaxed);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let started = Instant::now();
        if stats.finish_checkpoint.swap(false, Ordering::Relaxed) {
            restart_tries = wal::RESTART_TRIES;
        }
        // Before the WAL can start over in this batch.
        file_limit.update(&conn, stats, restart_tries);
        let copied = if restart_tries > 0 {
            // The copy runs outside any transaction.
            if let Some((txn, _)) = deferred.take() {
                commit(txn, on_events, stats, None);
            }
            restart_tries -= 1;
            wal::copy_back(&conn)
        } else {
            None
        };
        wal::forget_pages();
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        stats
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (mut txn, due) = deferred
            .take()
            .unwrap_or_else(|| (Txn::begin(&conn), started + defer));
        txn.run_batch(&mut batch);
        // A batch after the checkpointer's request commits at once: whether it started the
        // WAL over is read from the commit.
        if copied.is_none() && !txn.awaited() && txn.is_open() && Instant::now() < due {
            deferred = Some((txn, due));
            stats
                .busy_us
                .fetch_add(micros_since(started), Ordering::Relaxed);
            continue;
        }
        let restarted = commit(txn, on_events, stats, copied);
        // Not started over, the next batch tries again while the checkpointer still wants it.
        if restarted || !stats.restart_wanted.load(Ordering::Relaxed) {
            restart_tries = 0;
        }
        stats
            .busy_us
            .fetch_add(micros_since(started), Ordering::Relaxed);
    }
    if let Some((txn, _)) = deferred.take() {
        commit(txn, on_events, stats, None);
    }
}

/// Commits a transaction and answers its writes; then wakes the delivery worker when one of
/// them queued webhook events. `copied`: the pages `wal::copy_back` copied before the
/// transaction, if it ran. Returns whether the commit started the WAL over.
fn commit(
    txn: Txn<'_>,
    on_events: &OnceLock<EventsHook>,
    stats: &Counters,
    copied: Option<i64>,
) -> bool {
    let mut restarted = false;
    let callers = txn.callers_waiting();
    let committed = txn.commit(stats, || {
        restarted = wal::note_commit(stats, copied);
        stats.crowding.note_commit(callers);
    });
    if EVENTS_QUEUED.with(|q| q.replace(false))
        && committed
        && let Some(hook) = on_events.get()
    {
        hook();
    }
    restarted
}

pub(super) fn micros_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}
