//! The one writer: a thread that owns a `synchronous=FULL` connection and commits queued
//! writes in batches (group commit). A failing write fails alone, not its batch; every
//! caller is answered only after its batch is durable.
//!
//! A write fails alone in one of two ways. Most writes run inside a savepoint of their own,
//! undone when the write fails. A repeatable write (`Writer::write_repeatable`, the API's
//! record changes) skips it: SQLite copies every page a savepoint's write touches into the
//! savepoint's journal, which was a fifth of a busy writer's time. Consecutive repeatable
//! writes share one savepoint (none when they open the transaction); when one of them fails
//! after changing something, the group is undone and its other writes run again, each in a
//! savepoint of its own.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// A queued write.
type Job = Box<dyn Write>;

/// What the writer thread does with a queued write.
trait Write: Send {
    /// Runs the write in the open transaction; true when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// True when `run` may be called again once what it did has been undone: the answer is
    /// then the last run's.
    fn repeatable(&self) -> bool;
    /// Answers the caller: with the write's own result when `batch` is `Ok`, else with the
    /// batch's error. A write that never ran answers the error, or `WriterGone`.
    fn answer(self: Box<Self>, batch: StoreResult<()>);
}

/// Writes waiting beyond this answer `Busy` at once: memory stays bounded under a flood.
const QUEUE_CAPACITY: usize = 4096;
/// The most writes one transaction carries.
const MAX_BATCH: usize = 256;

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    on_events: Arc<OnceLock<EventsHook>>,
    stats: Arc<Counters>,
}

/// What the writer has done since start, for metrics: writes per commit is the group
/// commit's batch size, and the busy time against the wall clock its load.
#[derive(Debug, Default)]
struct Counters {
    /// Writes queued and not yet taken into a batch.
    queued: AtomicU64,
    /// Set by the checkpointer: copy the rest of the WAL back before the next batch.
    finish_checkpoint: AtomicBool,
    commits: AtomicU64,
    writes: AtomicU64,
    busy_us: AtomicU64,
    commit_us: AtomicU64,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Writes taken into batches, committed or not.
    pub writes: u64,
    /// Seconds spent running batches, their commits included.
    pub busy_seconds: f64,
    /// Seconds spent in `COMMIT` (writing the WAL and waiting for the disk).
    pub commit_seconds: f64,
}

/// Called after a commit that queued webhook events.
type EventsHook = Box<dyn Fn() + Send + Sync>;

thread_local! {
    /// Set (on the writer thread) by a write that queued webhook events.
    static EVENTS_QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current transaction as one that queued webhook events: once it commits, the
/// writer calls its events hook (which wakes the delivery worker at once).
pub(crate) fn note_events_queued() {
    EVENTS_QUEUED.with(|q| q.set(true));
}

impl Writer {
    pub(super) fn start(conn: Connection) -> StoreResult<Writer> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE_CAPACITY);
        let on_events = Arc::new(OnceLock::new());
        let stats = Arc::new(Counters::default());
        let (hook, counters) = (on_events.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, rx, &hook, &counters))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Writer {
            inner: Arc::new(Inner {
                queue: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                on_events,
                stats,
            }),
        })
    }

    /// The writer's counters since start.
    pub fn stats(&self) -> WriterStats {
        let c = &self.inner.stats;
        WriterStats {
            commits: c.commits.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            busy_seconds: c.busy_us.load(Ordering::Relaxed) as f64 / 1e6,
            commit_seconds: c.commit_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Writes queued and not yet taken into a batch.
    pub fn queued(&self) -> u64 {
        self.inner.stats.queued.load(Ordering::Relaxed)
    }

    /// True when no write waits for the writer: a large write queued now holds nobody back,
    /// unless a write arrives while it runs.
    pub fn is_idle(&self) -> bool {
        self.queued() == 0
    }

    /// Asks the writer to copy what is left of the WAL back into the database before its
    /// next batch (see `checkpoint`): the batch then starts the WAL over from its beginning.
    pub fn finish_checkpoint(&self) {
        self.inner
            .stats
            .finish_checkpoint
            .store(true, Ordering::Relaxed);
    }

    /// Sets what to call after every commit that queued webhook events (once; later calls
    /// are ignored). One place wakes the delivery worker, whoever made the change.
    pub fn on_events_committed(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.inner.on_events.set(Box::new(hook));
    }

    /// Queues `f` and waits (asynchronously) until its batch has committed.
    /// `f` must not do network I/O: it runs inside the shared transaction.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, rx) = make_job(once(f), Mode::Once);
        self.enqueue(job, false)?;
        rx.await.unwrap_or(Err(StoreError::WriterGone.into()))
    }

    /// Like [`Writer::write`], for a write that may run more than once and so needs no
    /// savepoint of its own (see the module's header). When a repeatable write queued next to
    /// it fails after changing something, SQLite undoes both and `f` runs again; its last
    /// run's effects and answer are the ones that count. So `f` must change nothing outside
    /// the transaction, and must not depend on having run before. Nor may it change the
    /// schema: whether a failed run left anything to undo is told by the rows it changed.
    pub async fn write_repeatable<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, rx) = make_job(f, Mode::Repeatable);
        self.enqueue(job, false)?;
        rx.await.unwrap_or(Err(StoreError::WriterGone.into()))
    }

    /// Like [`Writer::write`], for threads that may block.
    pub fn write_blocking<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_and_wait(once(f), Mode::Once)
    }

    /// Like [`Writer::write_blocking`], but answers as soon as `f` has run in its batch, before
    /// the batch commits: a failed commit can still undo what the answer describes. Only for
    /// writes whose loss costs at most a repeat, never an acknowledged change: the delivery
    /// worker's lease on what it is about to send (leases are void after a restart anyway, and
    /// sending is at least once). Writes queued after this one still see it.
    pub fn write_uncommitted<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_and_wait(once(f), Mode::OnceAnsweredWhenRun)
    }

    /// Queues `f` and blocks the calling thread until it is answered.
    fn write_and_wait<R, E, F>(&self, f: F, mode: Mode) -> Result<R, E>
    where
        F: FnMut(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, rx) = make_job(f, mode);
        self.enqueue(job, true)?;
        rx.blocking_recv()
            .unwrap_or(Err(StoreError::WriterGone.into()))
    }

    /// Queues a repeatable write (see [`Writer::write_repeatable`]) without waiting for its
    /// commit (waiting only for room in the queue). For a thread that must not stall on the
    /// disk but whose write may lag: `f` reports its own failure, and a failed commit is
    /// logged by the writer. Writes run in the order they were queued, so a write queued
    /// after this one commits with it or after it.
    pub fn submit<E, F>(&self, f: F) -> StoreResult<()>
    where
        F: FnMut(&Connection) -> Result<(), E> + Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, _unwatched) = make_job(f, Mode::Repeatable);
        self.enqueue(job, true)
    }

    fn enqueue(&self, job: Job, block: bool) -> StoreResult<()> {
        let guard = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        let sender = guard.as_ref().ok_or(StoreError::WriterGone)?.clone();
        drop(guard);
        // Counted before it is sent, so that the writer never takes a job it has not counted.
        let queued = &self.inner.stats.queued;
        queued.fetch_add(1, Ordering::Relaxed);
        let sent = if block {
            sender.send(job).map_err(|_| StoreError::WriterGone)
        } else {
            sender.try_send(job).map_err(|e| match e {
                TrySendError::Full(_) => StoreError::Busy,
                TrySendError::Disconnected(_) => StoreError::WriterGone,
            })
        };
        if sent.is_err() {
            queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// True while the writer thread runs.
    pub fn is_alive(&self) -> bool {
        self.inner
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|h| !h.is_finished())
    }

    /// Lets the queued writes finish, then stops the thread.
    pub fn shutdown(&self) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let handle = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

type Reply<R, E> = tokio::sync::oneshot::Receiver<Result<R, E>>;

/// How a queued write is run and answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Runs once, in a savepoint of its own; answered once its batch has committed.
    Once,
    /// Runs once, in a savepoint of its own; answered as soon as it has run (see
    /// `Writer::write_uncommitted`).
    OnceAnsweredWhenRun,
    /// May run more than once (see `Writer::write_repeatable`); answered once its batch has
    /// committed.
    Repeatable,
}

/// A write and what it answered when last run.
struct Queued<F, R, E> {
    f: F,
    mode: Mode,
    result: Option<Result<R, E>>,
    reply: Option<tokio::sync::oneshot::Sender<Result<R, E>>>,
}

impl<F, R, E> Write for Queued<F, R, E>
where
    F: FnMut(&Connection) -> Result<R, E> + Send,
    R: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        // Forget the last run's answer first: a run that panics leaves none, and the write
        // must not answer for an earlier run that has since been undone.
        self.result = None;
        let result = (self.f)(conn);
        let ok = result.is_ok();
        match (self.mode, self.reply.take()) {
            (Mode::OnceAnsweredWhenRun, Some(tx)) => {
                let _ = tx.send(result);
            }
            (_, reply) => {
                self.reply = reply;
                self.result = Some(result);
            }
        }
        ok
    }

    fn repeatable(&self) -> bool {
        self.mode == Mode::Repeatable
    }

    fn answer(mut self: Box<Self>, batch: StoreResult<()>) {
        let Some(tx) = self.reply.take() else { return };
        let reply = match batch {
            // The write itself may have succeeded, but nothing of it is durable.
            Err(e) => Err(e.into()),
            Ok(()) => self
                .result
                .take()
                .unwrap_or(Err(StoreError::WriterGone.into())),
        };
        let _ = tx.send(reply);
    }
}

/// A run-once write in the shape every queued write has; a second run (which the writer
/// never asks of a write that is not repeatable) would answer `WriterGone`.
fn once<R, E, F>(f: F) -> impl FnMut(&Connection) -> Result<R, E>
where
    F: FnOnce(&Connection) -> Result<R, E>,
    E: From<StoreError>,
{
    let mut f = Some(f);
    move |conn| match f.take() {
        Some(f) => f(conn),
        None => Err(StoreError::WriterGone.into()),
    }
}

fn make_job<R, E, F>(f: F, mode: Mode) -> (Job, Reply<R, E>)
where
    F: FnMut(&Connection) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Queued {
        f,
        mode,
        result: None,
        reply: Some(tx),
    };
    (Box::new(job), rx)
}

fn run(
    mut conn: Connection,
    rx: Receiver<Job>,
    on_events: &OnceLock<EventsHook>,
    stats: &Counters,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        let started = Instant::now();
        if stats.finish_checkpoint.swap(false, Ordering::Relaxed) {
            copy_wal_back(&conn);
        }
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
        let committed = commit_batch(&mut conn, &mut batch, stats);
        stats
            .busy_us
            .fetch_add(micros_since(started), Ordering::Relaxed);
        if EVENTS_QUEUED.with(|q| q.replace(false))
            && committed
            && let Some(hook) = on_events.get()
        {
            hook();
        }
    }
}

/// Copies the pages the checkpointer's last pass left in the WAL back into the database,
/// between two batches. With the whole WAL copied, SQLite starts it over at the next batch's
/// first write (unless a reader still holds part of it: then at a later request), and
/// `journal_size_limit` cuts the file back. A RESTART checkpoint from the checkpointer's own
/// connection did the same while holding writes back for 15-130 ms: it waited for a gap
/// between batches, then copied everything the WAL had gained meanwhile. Here the writer
/// copies only what came since the checkpointer's last pass, typically a few batches.
fn copy_wal_back(conn: &Connection) {
    let copied = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    });
    match copied {
        Ok((0, wal, done)) if wal == done => {}
        Ok((busy, wal, done)) => {
            tracing::debug!(busy, wal, done, "the WAL could not be copied back whole");
        }
        Err(e) => tracing::warn!(error = %e, "the writer could not copy the WAL back"),
    }
}

/// Runs and commits one batch; true when its last transaction committed.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>, stats: &Counters) -> bool {
    let mut txn = Txn {
        conn: &*conn,
        open: begin(conn),
        ran: Vec::with_capacity(batch.len()),
        group: None,
    };
    for job in batch.drain(..) {
        if job.repeatable() {
            txn.run_in_group(job);
        } else {
            txn.close_group();
            txn.run_alone(job);
        }
    }
    let Txn { open, mut ran, .. } = txn;
    if open.is_err() || conn.is_autocommit() {
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
            stats.commits.fetch_add(1, Ordering::Relaxed);
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

/// A batch's transaction while its writes run.
struct Txn<'c> {
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
    if let Err(e) = &begun {
        tracing::error!(error = %e, "writer could not begin a transaction");
    }
    begun
}

/// Runs a statement kept prepared: the savepoint statements run twice for most writes, and
/// parsing them each time showed in the writer's profile (as did `BEGIN` and `COMMIT` when the
/// telemetry's writes commit one by one, during reads).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn micros_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on a fresh database with one table `t (v INTEGER NOT NULL)`.
    fn writer_on_table_t() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        (dir, Writer::start(conn).unwrap())
    }

    #[test]
    fn the_counters_tell_writes_from_commits_and_a_failed_write_fails_alone() {
        let (_dir, writer) = writer_on_table_t();
        // Twenty writes at once from as many threads: fewer commits than writes.
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    w.write_blocking(move |c| -> StoreResult<usize> {
                        // Every fifth write fails (NOT NULL) and must not take its batch along.
                        let v = if i % 5 == 0 { None } else { Some(i) };
                        Ok(c.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
                    })
                })
            })
            .collect();
        let ok = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(Result::is_ok)
            .count();
        assert_eq!(ok, 16);
        let stored: i64 = writer
            .write_blocking(|c| -> StoreResult<i64> {
                Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(stored, 16);
        let s = writer.stats();
        assert_eq!(s.writes, 21);
        assert!((1..=21).contains(&s.commits), "{s:?}");
        assert!(
            s.busy_seconds >= s.commit_seconds && s.commit_seconds > 0.0,
            "{s:?}"
        );
        writer.shutdown();
    }

    /// Keeps the writer busy until the returned sender is used: writes queued meanwhile
    /// make one batch, in the order queued.
    fn hold(writer: &Writer) -> std::sync::mpsc::Sender<()> {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let (job, _) = make_job(
            move |_| -> StoreResult<()> {
                let _ = started.send(());
                let _ = held.recv();
                Ok(())
            },
            Mode::Once,
        );
        writer.enqueue(job, true).unwrap();
        has_started.recv().unwrap();
        hold
    }

    /// A job that inserts `v` into `t`, and its answer.
    fn insert(v: i64) -> (Job, Reply<usize, StoreError>) {
        insert_as(Mode::Once, v)
    }

    fn insert_as(mode: Mode, v: i64) -> (Job, Reply<usize, StoreError>) {
        make_job(
            move |c: &Connection| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
            },
            mode,
        )
    }

    /// A repeatable job that inserts `v` and counts its runs.
    fn counted(v: i64) -> (Job, Reply<usize, StoreError>, Arc<AtomicU64>) {
        let runs = Arc::new(AtomicU64::new(0));
        let counter = runs.clone();
        let (job, rx) = make_job(
            move |c: &Connection| -> StoreResult<usize> {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(c.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
            },
            Mode::Repeatable,
        );
        (job, rx, runs)
    }

    /// A repeatable job that inserts `v` and then fails.
    fn fails_after_inserting(v: i64) -> (Job, Reply<(), StoreError>) {
        make_job(
            move |c: &Connection| -> StoreResult<()> {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Err(StoreError::Corrupt("gave up".into()))
            },
            Mode::Repeatable,
        )
    }

    fn stored_values(writer: &Writer) -> Vec<i64> {
        writer
            .write_blocking(|c| -> StoreResult<Vec<i64>> {
                let mut s = c.prepare("SELECT v FROM t ORDER BY v")?;
                Ok(s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
            })
            .unwrap()
    }

    #[test]
    fn a_failed_write_that_cannot_be_undone_alone_is_not_committed() {
        let (_dir, writer) = writer_on_table_t();
        let hold = hold(&writer);
        let (before, before_rx) = insert(1);
        // Fails after a change, having closed the savepoint the writer would undo it with.
        let (broken, broken_rx) = make_job(
            |c: &Connection| -> StoreResult<()> {
                c.execute_batch("INSERT INTO t (v) VALUES (2); RELEASE w")?;
                Err(StoreError::Corrupt("gave up".into()))
            },
            Mode::Once,
        );
        let (after, after_rx) = insert(3);
        for job in [before, broken, after] {
            writer.enqueue(job, true).unwrap();
        }
        hold.send(()).unwrap();
        assert!(matches!(
            broken_rx.blocking_recv().unwrap(),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            before_rx.blocking_recv().unwrap(),
            Err(StoreError::RolledBack)
        ));
        assert_eq!(after_rx.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(stored_values(&writer), [3]);
        writer.shutdown();
    }

    #[test]
    fn a_write_that_takes_its_transaction_along_fails_the_batch_before_it_not_after() {
        for mode in [Mode::Once, Mode::Repeatable] {
            a_write_that_takes_its_transaction_along(mode);
        }
    }

    fn a_write_that_takes_its_transaction_along(mode: Mode) {
        let (_dir, writer) = writer_on_table_t();
        writer
            .write_blocking(|c| -> StoreResult<()> {
                c.execute_batch("CREATE TABLE big (b BLOB)")?;
                // Room for a few pages more, not for a megabyte.
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                c.query_row(
                    &format!("PRAGMA max_page_count = {}", pages + 8),
                    [],
                    |_| Ok(()),
                )?;
                Ok(())
            })
            .unwrap();
        // Hold the writer so that the next four writes make one batch, in this order.
        let hold = hold(&writer);
        let (before, before_rx) = insert_as(mode, 1);
        let (alone, alone_rx) = make_job(
            |c: &Connection| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (NULL)", [])?)
            },
            mode,
        );
        let (full, full_rx) = make_job(
            |c: &Connection| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO big (b) VALUES (zeroblob(1048576))", [])?)
            },
            mode,
        );
        let (after, after_rx) = insert_as(mode, 3);
        for job in [before, alone, full, after] {
            writer.enqueue(job, true).unwrap();
        }
        hold.send(()).unwrap();
        let full = full_rx.blocking_recv().unwrap().unwrap_err();
        assert!(full.is_full(), "{full}");
        // A write that failed alone keeps its own error.
        match alone_rx.blocking_recv().unwrap() {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))) => {
                assert_eq!(e.code, rusqlite::ErrorCode::ConstraintViolation)
            }
            other => panic!("{other:?}"),
        }
        let before = before_rx.blocking_recv().unwrap();
        let after = after_rx.blocking_recv().unwrap();
        // Whatever SQLite undid under the full write, no answer claims a write that is not
        // stored, and a write queued after it is not refused for it.
        let stored = stored_values(&writer);
        assert_eq!(after.unwrap(), 1);
        assert_eq!(before.is_ok(), stored.contains(&1), "{before:?} {stored:?}");
        assert!(stored.contains(&3), "{stored:?}");
        writer.shutdown();
    }

    #[test]
    fn a_repeatable_write_that_fails_midway_takes_only_itself_along() {
        // In a group that opened the transaction, and in one after a write of another kind.
        let (_dir, writer) = writer_on_table_t();
        let hold = hold(&writer);
        let (first, first_rx, first_runs) = counted(1);
        let (broken, broken_rx) = fails_after_inserting(2);
        let (alone, alone_rx) = insert(3);
        let (grouped, grouped_rx, grouped_runs) = counted(4);
        let (broken_too, broken_too_rx) = fails_after_inserting(5);
        let (last, last_rx, last_runs) = counted(6);
        for job in [first, broken, alone, grouped, broken_too, last] {
            writer.enqueue(job, true).unwrap();
        }
        hold.send(()).unwrap();
        for rx in [broken_rx, broken_too_rx] {
            assert!(matches!(
                rx.blocking_recv().unwrap(),
                Err(StoreError::Corrupt(_))
            ));
        }
        for rx in [first_rx, alone_rx, grouped_rx, last_rx] {
            assert_eq!(rx.blocking_recv().unwrap().unwrap(), 1);
        }
        assert_eq!(stored_values(&writer), [1, 3, 4, 6]);
        // Undone with their failed neighbour and run again; the write after it ran once.
        assert_eq!(first_runs.load(Ordering::Relaxed), 2);
        assert_eq!(grouped_runs.load(Ordering::Relaxed), 2);
        assert_eq!(last_runs.load(Ordering::Relaxed), 1);
        writer.shutdown();
    }

    #[test]
    fn a_write_whose_run_again_fails_answers_that_failure_not_its_first_run() {
        let (_dir, writer) = writer_on_table_t();
        let hold = hold(&writer);
        // Succeeds the first time, panics when run again after its group is undone.
        let mut runs = 0;
        let (flaky, flaky_rx) = make_job(
            move |c: &Connection| -> StoreResult<usize> {
                runs += 1;
                assert_eq!(runs, 1, "a bug that shows only on the second run");
                Ok(c.execute("INSERT INTO t (v) VALUES (1)", [])?)
            },
            Mode::Repeatable,
        );
        let (broken, broken_rx) = fails_after_inserting(2);
        let (after, after_rx, _) = counted(3);
        for job in [flaky, broken, after] {
            writer.enqueue(job, true).unwrap();
        }
        hold.send(()).unwrap();
        assert!(matches!(
            flaky_rx.blocking_recv().unwrap(),
            Err(StoreError::WriterGone)
        ));
        assert!(broken_rx.blocking_recv().unwrap().is_err());
        assert_eq!(after_rx.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(stored_values(&writer), [3]);
        writer.shutdown();
    }

    #[test]
    fn a_repeatable_write_that_fails_before_changing_anything_undoes_nothing() {
        let (_dir, writer) = writer_on_table_t();
        let hold = hold(&writer);
        let (first, first_rx, first_runs) = counted(1);
        // NOT NULL: the statement fails, and SQLite undoes it by itself.
        let (refused, refused_rx) = make_job(
            |c: &Connection| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (NULL)", [])?)
            },
            Mode::Repeatable,
        );
        let (after, after_rx, after_runs) = counted(3);
        for job in [first, refused, after] {
            writer.enqueue(job, true).unwrap();
        }
        hold.send(()).unwrap();
        assert!(refused_rx.blocking_recv().unwrap().is_err());
        assert_eq!(first_rx.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(after_rx.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(stored_values(&writer), [1, 3]);
        assert_eq!(first_runs.load(Ordering::Relaxed), 1);
        assert_eq!(after_runs.load(Ordering::Relaxed), 1);
        writer.shutdown();
    }

    #[test]
    fn a_write_that_panics_is_answered_and_undone_alone() {
        for mode in [Mode::Once, Mode::Repeatable] {
            let (_dir, writer) = writer_on_table_t();
            let hold = hold(&writer);
            let (before, before_rx) = insert_as(mode, 1);
            let (panics, panics_rx) = make_job(
                |c: &Connection| -> StoreResult<()> {
                    c.execute("INSERT INTO t (v) VALUES (2)", [])?;
                    panic!("a bug in a write");
                },
                mode,
            );
            let (after, after_rx) = insert_as(mode, 3);
            for job in [before, panics, after] {
                writer.enqueue(job, true).unwrap();
            }
            hold.send(()).unwrap();
            assert!(matches!(
                panics_rx.blocking_recv().unwrap(),
                Err(StoreError::WriterGone)
            ));
            assert_eq!(before_rx.blocking_recv().unwrap().unwrap(), 1);
            assert_eq!(after_rx.blocking_recv().unwrap().unwrap(), 1);
            assert_eq!(stored_values(&writer), [1, 3]);
            writer.shutdown();
        }
    }

    #[test]
    fn the_writer_is_idle_when_no_write_waits() {
        let (_dir, writer) = writer_on_table_t();
        assert!(writer.is_idle());
        let hold = hold(&writer);
        let (job, rx) = insert(1);
        writer.enqueue(job, true).unwrap();
        assert!(!writer.is_idle(), "a write waits behind the held one");
        hold.send(()).unwrap();
        rx.blocking_recv().unwrap().unwrap();
        assert!(writer.is_idle());
        writer.shutdown();
    }

    #[test]
    fn a_submitted_write_commits_before_any_write_queued_after_it() {
        let (_dir, writer) = writer_on_table_t();
        for v in 0..100 {
            writer
                .submit(move |c| -> StoreResult<()> {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                    Ok(())
                })
                .unwrap();
        }
        // Queued after them: sees all of them.
        let seen: i64 = writer
            .write_blocking(|c| -> StoreResult<i64> {
                Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(seen, 100);
        writer.shutdown();
    }

    #[test]
    fn an_uncommitted_answer_is_the_writes_own_and_later_writes_see_it() {
        let (_dir, writer) = writer_on_table_t();
        let n = writer
            .write_uncommitted(|c| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (1), (2)", [])?)
            })
            .unwrap();
        assert_eq!(n, 2);
        // A failing one answers its error and leaves nothing behind.
        let failed = writer.write_uncommitted(|c| -> StoreResult<usize> {
            c.execute("INSERT INTO t (v) VALUES (3)", [])?;
            Ok(c.execute("INSERT INTO t (v) VALUES (NULL)", [])?)
        });
        assert!(failed.is_err());
        let seen: i64 = writer
            .write_blocking(|c| -> StoreResult<i64> {
                Ok(c.query_row("SELECT sum(v) FROM t", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(seen, 3);
        writer.shutdown();
    }
}
