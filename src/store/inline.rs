//! Reads on the calling server worker's own connection: no thread hop to the blocking pool
//! and no pool checkout, which together were a sixth of a list page's CPU. Only for reads
//! that take microseconds. A read that is usually short but may not be (a page whose filter
//! can skip many rows) runs on a budget of SQLite steps and is stopped when the budget runs
//! out, so that its caller can run it on the blocking pool instead: a worker thread is never
//! held up for longer than the budget.
//!
//! Consecutive reads share one snapshot (one read transaction) while nothing commits:
//! beginning and ending a read transaction, with its two `fcntl` calls on the WAL index,
//! was 7-8% of a point read's CPU.
//! The snapshot is given up, and the next read takes a fresh one, when
//! - the writer has committed since it began (`Writer::commits`, counted before any write of
//!   the batch is answered): a read never misses an acknowledged write;
//! - it is older than `SNAPSHOT_MAX_AGE`, which also bounds how late a write from another
//!   process is seen (the CLI writes no records, which are all these connections read);
//! - the checkpointer has asked for the WAL to start over and not yet seen it done
//!   (`Writer::restart_pending`): a snapshot held when the writer's batch begins keeps the
//!   WAL from starting over;
//! - or its read failed.
//!
//! A worker that stops reading would keep its snapshot, and with it the WAL, indefinitely:
//! while it holds one, each server worker calls `Store::release_idle_snapshots` every
//! `SNAPSHOT_MAX_AGE`, which ends a snapshot older than that (an idle worker's lives at most
//! twice as long); holding none, its timer sleeps until it takes one.
//!
//! Only for tables that this process's writer alone changes (the records): a change made
//! elsewhere is seen only once the snapshot is too old.

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::Notify;

use super::{ReadCounters, Store, StoreError, StoreResult, apply_pragmas};

/// Virtual machine steps between two looks at the budget.
const STEPS_PER_CHECK: c_int = 100;
/// The longest a snapshot serves reads. Under a stream of point reads the writer commits
/// (audit rows, last-used stamps) every few tens of milliseconds anyway.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(50);

thread_local! {
    /// Each server worker thread's own read connections, by database file.
    static READERS: RefCell<Vec<Reader>> = const { RefCell::new(Vec::new()) };
    /// Looks at the budget left to the budgeted read running on this thread; `None` while
    /// the read running has no budget.
    static CHECKS_LEFT: Cell<Option<u32>> = const { Cell::new(None) };
    /// Set when the budget ran out and SQLite was told to stop.
    static STOPPED: Cell<bool> = const { Cell::new(false) };
    /// See `max_age`.
    static MAX_AGE: Cell<Duration> = const { Cell::new(SNAPSHOT_MAX_AGE) };
    /// Told when this thread takes a snapshot: see `Store::snapshot_taken`.
    static TAKEN: Rc<Notify> = Rc::new(Notify::new());
}

/// A worker's connection to one database, and the snapshot it holds.
struct Reader {
    path: PathBuf,
    conn: Connection,
    held: Option<Snapshot>,
    counters: Arc<ReadCounters>,
    /// Set when a read transaction could not be ended: the connection is then closed (which
    /// ends it) and another opened, rather than every later read failing to begin its own.
    stuck: bool,
}

/// A read transaction left open for the next read.
struct Snapshot {
    /// The writer's commit count when it began (read before it began: a commit in between
    /// only makes it look older than it is).
    commits: u64,
    since: Instant,
}

impl Reader {
    fn open(path: &PathBuf, counters: Arc<ReadCounters>) -> StoreResult<Reader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        apply_pragmas(&conn, "NORMAL")?;
        conn.progress_handler(STEPS_PER_CHECK, Some(out_of_budget))?;
        Ok(Reader {
            path: path.clone(),
            conn,
            held: None,
            counters,
            stuck: false,
        })
    }

    /// Readies the connection for a read that must see every commit counted in `commits`:
    /// keeps the snapshot it holds if that one is still current, else gives it up and, when
    /// `hold`, opens a read transaction for the snapshot to be kept.
    fn ready(&mut self, commits: u64, hold: bool) -> StoreResult<()> {
        if !self.stuck
            && let Some(s) = &self.held
        {
            if hold && s.commits == commits && s.since.elapsed() < max_age() {
                return Ok(());
            }
            self.release();
        }
        if self.stuck {
            // Closing the connection ends its transaction; every later read would otherwise
            // fail to begin its own.
            *self = Reader::open(&self.path, self.counters.clone())?;
        }
        if hold {
            // Deferred: the snapshot is taken by the read's first statement.
            unbudgeted(|| self.conn.prepare_cached("BEGIN")?.execute([]))?;
            self.held = Some(Snapshot {
                commits,
                since: Instant::now(),
            });
            self.counters.snapshots.fetch_add(1, Ordering::Relaxed);
            self.counters.snapshots_held.fetch_add(1, Ordering::Relaxed);
            TAKEN.with(|t| t.notify_one());
        }
        Ok(())
    }

    /// Ends the read transaction, if one is open.
    fn release(&mut self) {
        if self.held.take().is_some() {
            self.counters.snapshots_held.fetch_sub(1, Ordering::Relaxed);
        }
        if !self.conn.is_autocommit() {
            let ended = unbudgeted(|| self.conn.prepare_cached("ROLLBACK")?.execute([]));
            if let Err(e) = ended
                && !self.conn.is_autocommit()
            {
                tracing::warn!(error = %e, "a read transaction could not be ended");
                self.stuck = true;
            }
        }
    }
}

/// Runs `f` outside the budget of the read running on this thread. The budget is counted in
/// SQLite's steps of each statement, summed over its runs: a cached `ROLLBACK` or `BEGIN`
/// would now and then be the statement that crosses the budget's next look, and be stopped.
fn unbudgeted<R>(f: impl FnOnce() -> R) -> R {
    let left = CHECKS_LEFT.take();
    let out = f();
    CHECKS_LEFT.set(left);
    out
}

/// How long a snapshot may serve reads on this thread (`SNAPSHOT_MAX_AGE`; tests lengthen it
/// so as not to depend on how fast the disk commits).
fn max_age() -> Duration {
    MAX_AGE.get()
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.release();
    }
}

impl Store {
    /// Runs an indexed point read on this thread's own connection. Only for reads that take
    /// microseconds (a primary-key or unique-index lookup); anything longer goes through
    /// [`Store::read`] on a blocking thread, or [`Store::try_read_inline`].
    pub fn read_inline<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        // Read before the snapshot is looked at: see `Snapshot::commits`.
        let commits = self.writer.commits();
        let hold = !self.writer.restart_pending();
        READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let index = match readers.iter().position(|r| r.path == self.path) {
                Some(i) => i,
                None => {
                    readers.push(Reader::open(&self.path, self.reads.clone())?);
                    readers.len() - 1
                }
            };
            let reader = &mut readers[index];
            reader.ready(commits, hold)?;
            let out = f(&reader.conn);
            if out.is_err() {
                // Whatever went wrong, the next read starts clean.
                reader.release();
            }
            out
        })
    }

    /// Ends this thread's snapshots that are past `SNAPSHOT_MAX_AGE`, and tells whether it
    /// still holds one. Each server worker calls it every `SNAPSHOT_MAX_AGE` while it holds
    /// one, so that a worker that stops reading does not hold the WAL back, and otherwise
    /// waits for `Store::snapshot_taken`.
    pub fn release_idle_snapshots() -> bool {
        READERS.with(|cell| {
            // Never while a read runs on this thread (it could not be borrowed then anyway).
            let Ok(mut readers) = cell.try_borrow_mut() else {
                return true;
            };
            for reader in readers.iter_mut() {
                if reader
                    .held
                    .as_ref()
                    .is_some_and(|s| s.since.elapsed() >= max_age())
                {
                    reader.release();
                }
            }
            readers.iter().any(|r| r.held.is_some())
        })
    }

    /// Notified each time this thread takes a snapshot (a notice given while nobody waits is
    /// kept for the next wait): an idle worker's timer sleeps on it instead of waking 20
    /// times a second for nothing.
    pub fn snapshot_taken() -> Rc<Notify> {
        TAKEN.with(Rc::clone)
    }

    /// Runs `f` inline like [`Store::read_inline`], but stops it once SQLite has run about
    /// `max_steps` steps of its virtual machine, and then answers `None` (whatever `f` did
    /// is undone: a read did nothing). The caller runs it again on the blocking pool.
    pub fn try_read_inline<R>(
        &self,
        max_steps: u32,
        f: impl FnOnce(&Connection) -> StoreResult<R>,
    ) -> StoreResult<Option<R>> {
        let _budget = Budget::start(max_steps.div_ceil(STEPS_PER_CHECK.unsigned_abs()));
        match self.read_inline(f) {
            Err(StoreError::Sqlite(e))
                if STOPPED.get()
                    && e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) =>
            {
                self.reads.moved.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            other => other.map(Some),
        }
    }
}

/// The budget of the read running on this thread, cleared when dropped (also on a panic,
/// so that the next point read on this thread runs without one).
struct Budget;

impl Budget {
    fn start(checks: u32) -> Budget {
        CHECKS_LEFT.set(Some(checks));
        STOPPED.set(false);
        Budget
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        CHECKS_LEFT.set(None);
        STOPPED.set(false);
    }
}

/// SQLite's progress handler on the inline connections: true stops the running statement.
fn out_of_budget() -> bool {
    match CHECKS_LEFT.get() {
        None => false,
        Some(0) => {
            STOPPED.set(true);
            true
        }
        Some(left) => {
            CHECKS_LEFT.set(Some(left - 1));
            false
        }
    }
}

#[cfg(test)]
mod tests;
