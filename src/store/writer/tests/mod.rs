//! Tests of the writer: the shared fixtures here, one module per topic below.

mod batches;
mod commits;
mod failures;

use super::job::Reply;
use super::*;

/// A writer on a fresh database with one table `t (v INTEGER NOT NULL)`.
fn writer_on_table_t() -> (tempfile::TempDir, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL)")
        .unwrap();
    (dir, Writer::start(conn).unwrap())
}

/// Keeps the writer busy until `send` is called: writes queued meanwhile make one batch, in
/// the order queued. The holding write is waited for, so its batch commits on its own.
fn hold(writer: &Writer) -> Hold {
    let (hold, held) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let (job, answer) = make_job(
        move |_| -> StoreResult<()> {
            let _ = started.send(());
            let _ = held.recv();
            Ok(())
        },
        Mode::Once,
    );
    writer.enqueue(job, true).unwrap();
    has_started.recv().unwrap();
    Hold {
        release: hold,
        _answer: answer,
    }
}

struct Hold {
    release: std::sync::mpsc::Sender<()>,
    _answer: Reply<(), StoreError>,
}

impl Hold {
    fn send(&self, _: ()) -> Result<(), std::sync::mpsc::SendError<()>> {
        self.release.send(())
    }
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

fn stored_values(writer: &Writer) -> Vec<i64> {
    writer
        .write_blocking(|c| -> StoreResult<Vec<i64>> {
            let mut s = c.prepare("SELECT v FROM t ORDER BY v")?;
            Ok(s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
        })
        .unwrap()
}
