//! Batches of writes in a transaction: the savepoints that let a failing write fail alone
//! (see the writer's header), and the commit. Every write run in it is answered here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Instant;

use rusqlite::Connection;

use super::thread::micros_since;
use super::{Counters, Job};
use crate::store::StoreError;

impl<'c> Txn<'c> {
    /// Opens a transaction for one or more batches.
    pub(super) fn begin(conn: &'c Connection) -> Txn<'c> {
        Txn {
            conn,
            open: begin(conn),
            ran: Vec::new(),
            group: None,
        }
    }

    /// Runs a batch's writes in the transaction.
    pub(super) fn run_batch(&mut self, batch: &mut Vec<Job>) {
        // The repeatable writes go first, as one group that opens the transaction (or
        // follows the writes of earlier batches in it) and so needs no savepoint of each
        // write's own; the others follow, each in its own. Run in queue order, every write of
        // another kind split the group, and each later part paid for a savepoint's page
        // copies. This never reorders the writes of one caller. Only `Writer::submit` queues a
        // write without waiting for it to run, and it queues repeatable ones, which keep their
        // order. Every other write is waited for at least until it has run, so whatever its
        // caller queues next goes into a later batch. (A caller that stopped waiting, its
        // request gone, was promised no order.)
        let (repeatable, alone): (Vec<Job>, Vec<Job>) =
            batch.drain(..).partition(|job| job.repeatable());
        for job in repeatable {
            self.run_in_group(job);
        }
        self.close_group();
        for job in alone {
            self.run_alone(job);
        }
    }

    /// True when a write run in the transaction has a caller waiting for its commit.
    pub(super) fn awaited(&self) -> bool {
        self.callers_waiting() > 0
    }

    /// How many writes run in the transaction have a caller waiting for its commit.
    pub(super) fn callers_waiting(&self) -> usize {
        self.ran
            .iter()
            .filter(|(_, job)| job.awaits_commit())
            .count()
    }

    /// True while the transaction is open and may take more writes.
    pub(super) fn is_open(&self) -> bool {
        self.open.is_ok() && !self.conn.is_autocommit()
    }

    /// Commits; true when it did. Every write run in the transaction is answered, after
    /// `committed` has run when the commit succeeded.
    pub(super) fn commit(self, stats: &Counters, committed: impl FnOnce()) -> bool {
        let open = self.is_open();
        let Txn { conn, mut ran, .. } = self;
        if !open {
            if !ran.is_empty() {
                undone(&mut ran);
            }
            return false;
        }
        let committing = Instant::now();
        let result = run_cached(conn, "COMMIT");
        stats
            .commit_us
            .fetch_add(micros_since(committing), Ordering::Relaxed);
        match result {
            Ok(()) => {
                // Release: a reader that sees the new count also sees the commit (`inline`).
                stats.commits.fetch_add(1, Ordering::Release);
                committed();
                ran.into_iter().for_each(|(_, job)| job.answer(Ok(())));
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                for (ok, job) in ran {
                    job.answer(if ok {
                        Err(StoreError::Sqlite(clone_error(&e)))
                    } else {
                        Ok(())
                    });
                }
                false
            }
        }
    }
}

/// A transaction while its writes run: one batch's, or several batches' in a row while
/// nobody waits for their commit (see the writer's `DEFER`).
pub(super) struct Txn<'c> {
    conn: &'c Connection,
    /// Whether the transaction is open (when it is not, every write fails with this error).
    open: rusqlite::Result<()>,
    /// Each write run in the transaction so far and whether it succeeded: one that failed
    /// answers its own error whatever becomes of the transaction.
    ran: Vec<(bool, Job)>,
    /// The repeatable writes run since the last write of another kind.
    group: Option<Group>,
}

/// Consecutive repeatable writes, undone together.
struct Group {
    /// Where in `Txn::ran` the group begins.
    start: usize,
    /// Whether savepoint `g` marks its start; else it began with the transaction.
    savepoint: bool,
}

impl Txn<'_> {
    /// Makes sure a transaction is open before a write runs. SQLite may have rolled back the
    /// whole transaction on its own (on some errors, a full disk or an I/O error, it undoes
    /// the transaction rather than the statement): left that way, the next `SAVEPOINT` would
    /// start a transaction of its own and each later write would commit alone, outside the
    /// batch. The writes run in the lost one are told, and the rest get a new one.
    fn ready(&mut self) -> rusqlite::Result<()> {
        if self.open.is_ok() && self.conn.is_autocommit() {
            undone(&mut self.ran);
            self.group = None;
            self.open = begin(self.conn);
        }
        self.open.as_ref().map(|_| ()).map_err(clone_error)
    }

    /// Runs a write inside a savepoint of its own, undone if the write fails.
    fn run_alone(&mut self, mut job: Job) {
        if let Err(e) = self.ready() {
            job.answer(Err(StoreError::Sqlite(e)));
            return;
        }
        if let Err(e) = run_cached(self.conn, "SAVEPOINT w") {
            tracing::error!(error = %e, "writer could not open a savepoint");
            job.answer(Err(StoreError::Sqlite(e)));
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(self.conn)));
        let ok = matches!(outcome, Ok(true));
        if outcome.is_err() {
            tracing::error!("a write panicked; rolled back alone");
        }
        self.ran.push((ok, job));
        // Once SQLite has dropped the transaction there is no savepoint left to close.
        if self.conn.is_autocommit() {
            return;
        }
        if ok {
            let _ = run_cached(self.conn, "RELEASE w");
        } else {
            self.undo_write();
        }
    }

    /// Undoes a failed (or panicked) write alone. Should even that fail, the transaction goes
    /// whole rather than commit what is left of the write: the writes run in it so far are
    /// told, and the rest of the batch gets a new one.
    fn undo_write(&mut self) {
        if let Err(e) = self.conn.execute_batch("ROLLBACK TO w; RELEASE w") {
            tracing::error!(error = %e, "writer could not undo a failed write alone");
            self.lose_transaction();
        }
    }

    /// Runs a repeatable write in the current group, without a savepoint of its own.
    fn run_in_group(&mut self, mut job: Job) {
        if let Err(e) = self.ready() {
            job.answer(Err(StoreError::Sqlite(e)));
            return;
        }
        if self.group.is_none() {
            let savepoint = !self.ran.is_empty();
            if savepoint && let Err(e) = run_cached(self.conn, "SAVEPOINT g") {
                tracing::error!(error = %e, "writer could not open a savepoint");
                job.answer(Err(StoreError::Sqlite(e)));
                return;
            }
            self.group = Some(Group {
                start: self.ran.len(),
                savepoint,
            });
        }
        let changes = self.conn.total_changes();
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(self.conn)));
        let ok = matches!(outcome, Ok(true));
        if outcome.is_err() {
            tracing::error!("a write panicked; its group is undone and run again without it");
        }
        // SQLite undoes a failed statement by itself: a write that failed before any of its
        // statements changed a row (as `total_changes` counts them: inserts, updates and
        // deletes, which is all a repeatable write may do) leaves nothing behind.
        let clean = ok || (outcome.is_ok() && self.conn.total_changes() == changes);
        self.ran.push((ok, job));
        if !clean && !self.conn.is_autocommit() {
            self.undo_group();
        }
    }

    /// Undoes the group (its last write failed midway) and runs its writes that had
    /// succeeded again, each in a savepoint of its own so that any failure now is its own.
    fn undo_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let undo = if group.savepoint {
            self.conn.execute_batch("ROLLBACK TO g; RELEASE g")
        } else {
            self.conn.execute_batch("ROLLBACK")
        };
        if let Err(e) = undo {
            tracing::error!(error = %e, "writer could not undo a failed write's group");
            self.lose_transaction();
            return;
        }
        if !group.savepoint {
            self.open = begin(self.conn);
        }
        for (ok, job) in self.ran.split_off(group.start) {
            if ok {
                self.run_alone(job);
            } else {
                self.ran.push((false, job));
            }
        }
    }

    /// Ends the group: the writes after it undo alone.
    fn close_group(&mut self) {
        if let Some(Group {
            savepoint: true, ..
        }) = self.group.take()
            && !self.conn.is_autocommit()
        {
            let _ = run_cached(self.conn, "RELEASE g");
        }
    }

    /// Gives up the transaction rather than commit part of a write: the writes run in it so
    /// far are told, and the rest of the batch gets a new one.
    fn lose_transaction(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        undone(&mut self.ran);
        self.group = None;
        self.open = begin(self.conn);
    }
}

/// The writes run in a transaction that is gone are told: the ones that succeeded are
/// undone, the ones that failed keep their own error.
fn undone(ran: &mut Vec<(bool, Job)>) {
    tracing::error!("the database rolled back a batch's transaction; its writes so far are undone");
    for (ok, job) in ran.drain(..) {
        job.answer(if ok {
            Err(StoreError::RolledBack)
        } else {
            Ok(())
        });
    }
}

/// Opens a batch's transaction, logging a failure (every write of the batch then fails).
fn begin(conn: &Connection) -> rusqlite::Result<()> {
    let begun = run_cached(conn, "BEGIN IMMEDIATE");
    match &begun {
        Ok(()) => super::TRANSACTION.with(|n| n.set(n.get() + 1)),
        Err(e) => tracing::error!(error = %e, "writer could not begin a transaction"),
    }
    begun
}

/// Runs a statement kept prepared: the savepoint statements run twice for most writes, and
/// parsing them each time showed in the writer's profile (as did `BEGIN` and `COMMIT` when the
/// telemetry's writes commit one by one, during reads).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
