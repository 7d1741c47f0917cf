//! The writer's side of the WAL's checkpoints (see `store::checkpoint`): the checkpointer's
//! requests to start the WAL over, the copy the writer makes before it does, how much of the
//! file a restart keeps, and the WAL's length after each commit.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::Connection;

use super::{Counters, Writer};
use crate::store::checkpoint;

/// Batches in a row that try to start the WAL over, after the checkpointer asked, when a
/// reader still using the WAL kept the last one from doing so (see `copy_back`).
pub(super) const RESTART_TRIES: u32 = 8;

thread_local! {
    /// Pages in the WAL after the writer's last commit (SQLite's WAL hook, which runs on the
    /// committing thread); -1 when no commit wrote any since it was reset.
    static WAL_PAGES: Cell<i64> = const { Cell::new(-1) };
}

/// SQLite's WAL hook on the writer's connection.
pub(super) fn note_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(i64::from(pages)));
    Ok(())
}

/// Forgets the last commit's count, before a batch: whether the batch wrote any is then read
/// from the commit (`note_commit`).
pub(super) fn forget_pages() {
    WAL_PAGES.with(|p| p.set(-1));
}

/// Counts what a commit did to the WAL, before its writes are answered (so that a caller
/// reading the stats after its answer finds its commit in them): its length, and whether
/// the commit started it over after `copy_back` copied `copied` pages. Started over, the WAL
/// holds this commit's pages only; if it did not (a reader still used it), the writer's next
/// batches try again. Returns whether it started over.
pub(super) fn note_commit(stats: &Counters, copied: Option<i64>) -> bool {
    let pages = WAL_PAGES.with(Cell::get);
    if let Ok(frames) = u64::try_from(pages) {
        stats.wal_frames.store(frames, Ordering::Relaxed);
    }
    let restarted = copied.is_some_and(|copied| (0..copied).contains(&pages));
    if restarted {
        stats.wal_restarts.fetch_add(1, Ordering::Relaxed);
    }
    restarted
}

impl Writer {
    /// Counts one of the checkpointer's passes, for metrics.
    pub(crate) fn note_checkpoint_pass(&self, took: Duration) {
        let c = &self.inner.stats;
        c.checkpoint_passes.fetch_add(1, Ordering::Relaxed);
        c.checkpoint_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// True from the checkpointer's request to start the WAL over until one of its passes
    /// finds the WAL within the bound again (started over, or not yet regrown past it):
    /// readers then hold no snapshot beyond one read (see `inline`). A reader that holds one
    /// when the writer's batch begins keeps the WAL from starting over, and under a mixed
    /// load of reads and writes one nearly always does: the WAL grew by 35 MB a second,
    /// unbounded. Under a steady stream of writes the WAL is past the bound again by the
    /// next pass, so readers keep no snapshots then; a snapshot would serve a few reads at
    /// most between two commits anyway.
    pub(crate) fn restart_pending(&self) -> bool {
        self.inner.stats.restart_wanted.load(Ordering::Relaxed)
    }

    /// Told by the checkpointer when a pass finds the WAL within the bound: readers may keep
    /// snapshots again.
    pub(crate) fn wal_within_bound(&self) {
        let stats = &self.inner.stats;
        stats.restart_wanted.store(false, Ordering::Relaxed);
        let _ =
            stats
                .streaming_passes_left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Asks the writer to copy what is left of the WAL back into the database before its
    /// next batch (see `checkpoint`): the batch then starts the WAL over from its beginning.
    pub fn finish_checkpoint(&self) {
        let stats = &self.inner.stats;
        // Before the writer can act on it: a scrape never sees more restarts than requests.
        stats.restarts_asked.fetch_add(1, Ordering::Relaxed);
        stats.restart_wanted.store(true, Ordering::Relaxed);
        stats
            .streaming_passes_left
            .store(checkpoint::QUIET_PASSES, Ordering::Relaxed);
        stats.finish_checkpoint.store(true, Ordering::Relaxed);
    }
}

/// The `journal_size_limit` the writer last gave its connection (see
/// `checkpoint::wal_file_limit`); none before its first batch.
#[derive(Default)]
pub(super) struct FileLimit(Option<i64>);

impl FileLimit {
    /// Sets the limit for the next batch, which may start the WAL over: it applies at the
    /// first commit after that. Setting it changes a number in SQLite, no file. A restart
    /// asked for counts as streaming by `restart_tries` too, whatever order the writer sees
    /// the checkpointer's flags in.
    pub(super) fn update(&mut self, conn: &Connection, stats: &Counters, restart_tries: u32) {
        let streaming =
            restart_tries > 0 || stats.streaming_passes_left.load(Ordering::Relaxed) > 0;
        let want = checkpoint::wal_file_limit(streaming);
        if self.0 == Some(want) {
            return;
        }
        if let Err(e) = conn.execute_batch(&format!("PRAGMA journal_size_limit = {want}")) {
            tracing::warn!(error = %e, "the writer could not set the WAL's size limit");
        }
        // Tried once per change: a failure leaves the last limit in force, which costs disk
        // room or speed, never a write; one warning per change says all there is.
        self.0 = Some(want);
    }
}

/// Copies the pages the checkpointer's last pass left in the WAL back into the database,
/// between two batches. With the whole WAL copied, SQLite starts it over at the next batch's
/// first write, writing over the file from its beginning (`checkpoint::wal_file_limit` says
/// how much of the file it keeps). A RESTART checkpoint from the checkpointer's own
/// connection did the same while holding writes back for 15-130 ms: it waited for a gap
/// between batches, then copied everything the WAL had gained meanwhile. Here the writer
/// copies only what came since the checkpointer's last pass, typically a few batches.
///
/// A reader whose snapshot predates the copy keeps the WAL from starting over (it may still
/// read the old frames). Under reads and creates at once, 4 of 19 requests in a 10 s trace
/// met one, and the WAL then grew until the checkpointer's next request, half a second later
/// (to 93 MB once). So the writer tries again before each of its next few batches
/// (`RESTART_TRIES`), each copying back only the batch before.
///
/// Returns the pages in the WAL, when the copy ran.
pub(super) fn copy_back(conn: &Connection) -> Option<i64> {
    match checkpoint::passive(conn) {
        Ok((0, wal, done)) if wal == done => Some(wal),
        Ok((busy, wal, done)) => {
            tracing::debug!(busy, wal, done, "the WAL could not be copied back whole");
            Some(wal)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the writer could not copy the WAL back");
            None
        }
    }
}
