//! The one writer: a thread that owns a `synchronous=FULL` connection and commits queued
//! writes in batches (group commit). Each write runs inside its own savepoint, so a failing
//! write fails alone; every caller is answered only after its batch is durable.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// Called once the batch a write belongs to has committed (`Ok`) or failed (`Err`).
type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// A queued write: runs against the transaction (or, given `None`, does not run at all),
/// says whether it succeeded, and hands back what to do once the batch's fate is known.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

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
        let hook = on_events.clone();
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, rx, &hook))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Writer {
            inner: Arc::new(Inner {
                queue: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                on_events,
            }),
        })
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
        let (job, rx) = make_job(f);
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
        let (job, rx) = make_job(f);
        self.enqueue(job, true)?;
        rx.blocking_recv()
            .unwrap_or(Err(StoreError::WriterGone.into()))
    }

    fn enqueue(&self, job: Job, block: bool) -> StoreResult<()> {
        let guard = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        let sender = guard.as_ref().ok_or(StoreError::WriterGone)?.clone();
        drop(guard);
        if block {
            return sender.send(job).map_err(|_| StoreError::WriterGone);
        }
        sender.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Busy,
            TrySendError::Disconnected(_) => StoreError::WriterGone,
        })
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

fn make_job<R, E, F>(f: F) -> (Job, Reply<R, E>)
where
    F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |conn| {
        let result = match conn {
            Some(conn) => f(conn),
            None => Err(StoreError::WriterGone.into()),
        };
        let ok = result.is_ok();
        let completion: Completion = Box::new(move |committed| {
            let answer = match committed {
                Ok(()) => result,
                // The write itself may have succeeded, but nothing of it is durable.
                Err(e) => Err(e.into()),
            };
            let _ = tx.send(answer);
        });
        (ok, completion)
    });
    (job, rx)
}

fn run(mut conn: Connection, rx: Receiver<Job>, on_events: &OnceLock<EventsHook>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(&mut conn, &mut batch);
        if EVENTS_QUEUED.with(|q| q.replace(false))
            && committed
            && let Some(hook) = on_events.get()
        {
            hook();
        }
    }
}

/// Runs and commits one batch; true when it committed.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "writer could not begin a transaction");
        for job in batch.drain(..) {
            let (_, done) = job(None);
            done(Err(StoreError::Sqlite(clone_error(&e))));
        }
        return false;
    }
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = run_cached(conn, "SAVEPOINT w") {
            // The transaction itself is broken: fail this write and carry on with the next.
            tracing::error!(error = %e, "writer could not open a savepoint");
            let (_, done) = job(None);
            done(Err(StoreError::Sqlite(clone_error(&e))));
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job(Some(conn)))) {
            Ok((true, done)) => {
                let _ = run_cached(conn, "RELEASE w");
                completions.push(done);
            }
            Ok((false, done)) => {
                let _ = conn.execute_batch("ROLLBACK TO w; RELEASE w");
                completions.push(done);
            }
            Err(_) => {
                tracing::error!("a write panicked; rolled back alone");
                let _ = conn.execute_batch("ROLLBACK TO w; RELEASE w");
            }
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            completions.into_iter().for_each(|c| c(Ok(())));
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            for c in completions {
                c(Err(StoreError::Sqlite(clone_error(&e))));
            }
            false
        }
    }
}

/// Runs a statement kept prepared: the savepoint statements run twice per write, and parsing
/// them each time showed in the writer's profile.
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
