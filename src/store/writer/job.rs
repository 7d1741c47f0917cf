//! A queued write: the job the writer thread runs, how often it may run, and how its caller
//! is answered.

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// A queued write.
pub(super) type Job = Box<dyn Write>;

/// What the writer thread does with a queued write.
pub(super) trait Write: Send {
    /// Runs the write in the open transaction; true when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// True when `run` may be called again once what it did has been undone: the answer is
    /// then the last run's.
    fn repeatable(&self) -> bool;
    /// Answers the caller: with the write's own result when `batch` is `Ok`, else with the
    /// batch's error. A write that never ran answers the error, or `WriterGone`.
    fn answer(self: Box<Self>, batch: StoreResult<()>);
    /// True while a caller waits for the answer `answer` gives once the write's transaction
    /// ends: not for a write already answered when it ran, nor one whose caller is gone.
    fn awaits_commit(&self) -> bool;
}

pub(super) type Reply<R, E> = tokio::sync::oneshot::Receiver<Result<R, E>>;

/// How a queued write is run and answered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
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

    fn awaits_commit(&self) -> bool {
        self.reply.as_ref().is_some_and(|tx| !tx.is_closed())
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
pub(super) fn once<R, E, F>(f: F) -> impl FnMut(&Connection) -> Result<R, E>
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

pub(super) fn make_job<R, E, F>(f: F, mode: Mode) -> (Job, Reply<R, E>)
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
