//! The one writer: a thread that owns a `synchronous=FULL` connection and commits queued
//! writes in batches (group commit). A failing write fails alone, not its batch; every
//! caller is answered only after its batch is durable. A batch of writes nobody waits on
//! (the delivery worker's) leaves its transaction open for the next batches, a few
//! milliseconds at most (`DEFER`): the first write someone waits for commits them all.
//!
//! A write fails alone in one of two ways. Most writes run inside a savepoint of their own,
//! undone when the write fails. A repeatable write (`Writer::write_repeatable`: the API's
//! record changes, the filing of new records in `store::filing`) skips it: SQLite copies
//! every page a savepoint's write touches into the savepoint's journal, which was a fifth of
//! a busy writer's time. A batch runs its repeatable writes first, as one group that opens
//! the transaction and so needs no savepoint (or, in a transaction deferred writes left
//! open, one savepoint for the group); when one of them fails after changing something, the
//! group is undone and its other writes run again, each in a savepoint of its own. The other
//! writes follow, in queue order.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, StoreResult};

mod batch;
mod crowding;
pub use crowding::{CROWDED_AT, CROWDED_FOR};
mod job;
use job::{Job, Mode, make_job, once};
mod thread;
mod wal;

/// Writes waiting beyond this answer `Busy` at once: memory stays bounded under a flood.
const QUEUE_CAPACITY: usize = 4096;
/// The most writes one transaction carries.
const MAX_BATCH: usize = 256;
/// How long a transaction whose writes nobody waits on (the delivery worker's leases and
/// outcomes, `Writer::submit`) stays open for the writes that follow, at most: every commit
/// writes each page it changed to the WAL and waits for the disk. Draining a backlog of
/// deliveries, with a commit after each batch, the writer committed 14,000 times for 30,000
/// deliveries, and the commits' syncs and page writes were half of its time. A write that
/// someone waits for commits at once, with whatever the transaction holds.
const DEFER: Duration = Duration::from_millis(5);

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    /// A read lock to queue (readers never wait on each other, so a thread at a low priority
    /// that holds one holds up nobody but `shutdown`), the write lock to close the queue.
    queue: RwLock<Option<SyncSender<Job>>>,
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
    /// Set with `finish_checkpoint`, cleared by the checkpointer once a pass finds the WAL
    /// within the bound: until then, readers keep no snapshot (see `Writer::restart_pending`).
    restart_wanted: AtomicBool,
    /// Passes that must still find the WAL within the bound, in a row, before the WAL file
    /// may be cut back (`checkpoint::wal_file_limit`): set by each request to start it over.
    streaming_passes_left: AtomicU32,
    commits: AtomicU64,
    writes: AtomicU64,
    busy_us: AtomicU64,
    commit_us: AtomicU64,
    /// Frames in the WAL after the last commit that wrote any.
    wal_frames: AtomicU64,
    /// Times a batch started the WAL over at the checkpointer's request.
    wal_restarts: AtomicU64,
    /// The checkpointer's passes and their time, and its requests to start the WAL over.
    checkpoint_passes: AtomicU64,
    checkpoint_us: AtomicU64,
    restarts_asked: AtomicU64,
    /// When a commit last answered a crowd of callers.
    crowding: crowding::Crowding,
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
    /// Frames (pages) in the WAL after the last commit: its length since it last started over.
    pub wal_frames: u64,
    /// Times the WAL started over at the checkpointer's request (`restarts_asked` counts the
    /// requests; a reader still using the WAL can hold a restart off past the next one).
    pub wal_restarts: u64,
    /// The checkpointer's passes, those that failed included.
    pub checkpoint_passes: u64,
    /// Seconds the checkpointer spent in its passes, syncing the database file included.
    pub checkpoint_seconds: f64,
    /// Passes that found the WAL past its bound and asked the writer to start it over.
    pub restarts_asked: u64,
    /// Commits that answered a crowd of waiting callers (`Writer::crowded_for`).
    pub crowded_commits: u64,
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

thread_local! {
    /// The writer thread's transactions begun so far: the number of the one its writes run in.
    static TRANSACTION: Cell<u64> = const { Cell::new(0) };
}

/// On the writer thread, the number of the transaction a write runs in: every `BEGIN` that
/// succeeds takes a new one. 0 on any other thread. What a write caches from what it read
/// (the endpoints subscribed to an event, `store::webhooks`) is checked again in each new
/// transaction.
pub(crate) fn transaction() -> u64 {
    TRANSACTION.with(Cell::get)
}

impl Writer {
    pub(super) fn start(conn: Connection) -> StoreResult<Writer> {
        Writer::start_deferring(conn, DEFER)
    }

    /// Like `start`, with another longest deferral of a commit nobody waits for (tests use
    /// long ones, so that which writes share a commit does not hang on timing).
    fn start_deferring(conn: Connection, defer: Duration) -> StoreResult<Writer> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE_CAPACITY);
        let on_events = Arc::new(OnceLock::new());
        let stats = Arc::new(Counters::default());
        let (hook, counters) = (on_events.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || thread::run(conn, rx, defer, &hook, &counters))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Writer {
            inner: Arc::new(Inner {
                queue: RwLock::new(Some(tx)),
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
            wal_frames: c.wal_frames.load(Ordering::Relaxed),
            wal_restarts: c.wal_restarts.load(Ordering::Relaxed),
            checkpoint_passes: c.checkpoint_passes.load(Ordering::Relaxed),
            checkpoint_seconds: c.checkpoint_us.load(Ordering::Relaxed) as f64 / 1e6,
            restarts_asked: c.restarts_asked.load(Ordering::Relaxed),
            crowded_commits: c.crowding.commits(),
        }
    }

    /// Writes queued and not yet taken into a batch.
    pub fn queued(&self) -> u64 {
        self.inner.stats.queued.load(Ordering::Relaxed)
    }

    /// How long callers have crowded the writer, while they do: from the first of the
    /// commits that answered `CROWDED_AT` or more waiting callers within `CROWDED_FOR` of each
    /// other, until `CROWDED_FOR` after the last. Requests then queue up behind the writer,
    /// and work nobody waits on should make way (see `crowding`).
    pub fn crowded_for(&self) -> Option<Duration> {
        self.inner.stats.crowding.crowded_for()
    }

    /// True when no write waits for the writer: a large write queued now holds nobody back,
    /// unless a write arrives while it runs.
    pub fn is_idle(&self) -> bool {
        self.queued() == 0
    }

    /// Transactions committed so far. Counted after each commit and before any of its
    /// writes is answered: a read that finds the count unchanged since its snapshot began
    /// misses no acknowledged write of this process (see `inline`).
    pub(crate) fn commits(&self) -> u64 {
        self.inner.stats.commits.load(Ordering::Acquire)
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

    /// Like [`Writer::write_repeatable`], for threads that may block.
    pub fn write_repeatable_blocking<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_and_wait(f, Mode::Repeatable)
    }

    /// Like [`Writer::write_blocking`], but answers as soon as `f` has run in its batch, before
    /// the batch commits: a failed commit can still undo what the answer describes (as can a
    /// later batch that loses the transaction while it is left open, see `DEFER`). Only for
    /// writes whose loss costs at most a repeat, never an acknowledged change: the delivery
    /// worker's lease on what it is about to send (leases are void after a restart anyway, and
    /// sending is at least once), and the deliveries it makes from committed events (made
    /// again from them if lost; an attempt is recorded only on the delivery it was made for,
    /// `deliveries::record_attempt`); and the audit rows of a flush but its last write, which
    /// is waited for and commits them all (`activity::recorder::flush`: telemetry, whose loss
    /// with a lost transaction the writer logs). Writes queued after this one still see it.
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
    /// logged by the writer. A write queued after this one runs after it, in the same batch
    /// or a later one, so it commits with it or after it.
    pub fn submit<E, F>(&self, f: F) -> StoreResult<()>
    where
        F: FnMut(&Connection) -> Result<(), E> + Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, unwatched) = make_job(f, Mode::Repeatable);
        // Dropped before the job is queued: the writer tells from it that nobody waits for
        // the commit (`Write::awaits_commit`), whenever it runs the job.
        drop(unwatched);
        self.enqueue(job, true)
    }

    fn enqueue(&self, job: Job, block: bool) -> StoreResult<()> {
        let guard = self.inner.queue.read().unwrap_or_else(|p| p.into_inner());
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
            .write()
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

#[cfg(test)]
mod tests;
