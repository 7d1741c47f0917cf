use std::time::Instant;

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
    // In the group that opened the transaction, and in one begun after that group's undo.
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

#[test]
fn a_batch_runs_its_repeatable_writes_first_each_kind_in_queue_order() {
    let (_dir, writer) = writer_on_table_t();
    let hold = hold(&writer);
    let (once_1, once_1_rx) = insert_as(Mode::Once, 1);
    let (rep_2, rep_2_rx, _) = counted(2);
    let (once_3, once_3_rx) = insert_as(Mode::Once, 3);
    let (rep_4, rep_4_rx, _) = counted(4);
    for job in [once_1, rep_2, once_3, rep_4] {
        writer.enqueue(job, true).unwrap();
    }
    hold.send(()).unwrap();
    for rx in [once_1_rx, rep_2_rx, once_3_rx, rep_4_rx] {
        assert_eq!(rx.blocking_recv().unwrap().unwrap(), 1);
    }
    assert_eq!(
        writer.stats().commits,
        2,
        "the hold's batch, then these four"
    );
    let order = writer
        .write_blocking(|c| -> StoreResult<Vec<i64>> {
            let mut s = c.prepare("SELECT v FROM t ORDER BY rowid")?;
            Ok(s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
        })
        .unwrap();
    assert_eq!(order, [2, 4, 1, 3]);
    writer.shutdown();
}

/// A fresh connection's count of the rows in `t`.
fn rows_in_t(dir: &tempfile::TempDir) -> i64 {
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

/// Like `writer_on_table_t`, with this longest deferral of a commit nobody waits for.
fn deferring_writer_on_table_t(defer: std::time::Duration) -> (tempfile::TempDir, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL)")
        .unwrap();
    (dir, Writer::start_deferring(conn, defer).unwrap())
}

fn insert_unwatched(writer: &Writer, v: i64) {
    writer
        .submit(move |c| -> StoreResult<()> {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_write_nobody_waits_for_commits_on_its_own_soon_after() {
    let (dir, writer) = deferring_writer_on_table_t(std::time::Duration::from_millis(200));
    insert_unwatched(&writer, 1);
    // No write follows it: the deferred commit comes by itself (polled up to a generous
    // bound).
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while rows_in_t(&dir) == 0 || writer.stats().commits == 0 {
        assert!(Instant::now() < deadline, "never committed");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(writer.stats().commits, 1);
    writer.shutdown();
}

#[test]
fn writes_nobody_waits_for_share_a_commit_that_a_waited_write_makes_at_once() {
    let (dir, writer) = deferring_writer_on_table_t(std::time::Duration::from_secs(3_600));
    // Each answered once it has run, one batch after another: none commits yet.
    for v in 0..20 {
        writer
            .write_uncommitted(move |c| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
            })
            .unwrap();
        insert_unwatched(&writer, 100 + v);
    }
    assert_eq!(rows_in_t(&dir), 0, "all still in the open transaction");
    assert_eq!(writer.stats().commits, 0);
    // A write someone waits for commits them all, without waiting out the deferral.
    let (job, rx) = insert(50);
    writer.enqueue(job, true).unwrap();
    rx.blocking_recv().unwrap().unwrap();
    assert_eq!(rows_in_t(&dir), 41);
    assert_eq!(writer.stats().commits, 1, "{:?}", writer.stats());
    writer.shutdown();
}

#[test]
fn shutting_down_commits_the_writes_nobody_waited_for() {
    let (dir, writer) = deferring_writer_on_table_t(std::time::Duration::from_secs(3_600));
    for v in 0..100 {
        insert_unwatched(&writer, v);
    }
    writer.shutdown();
    assert_eq!(rows_in_t(&dir), 100);
}

#[test]
fn a_commit_that_answers_a_crowd_of_callers_marks_the_writer_crowded_others_do_not() {
    let (_dir, writer) = writer_on_table_t();
    // Writes nobody waits for, however many share a commit, are no crowd.
    let hold_one = hold(&writer);
    for v in 0..(2 * CROWDED_AT as i64) {
        insert_unwatched(&writer, v);
    }
    hold_one.send(()).unwrap();
    assert_eq!(stored_values(&writer).len(), 2 * CROWDED_AT);
    // Nor are a few callers in one commit.
    let few = CROWDED_AT - 2;
    let commit_of = |callers: usize| {
        let held = hold(&writer);
        let answers: Vec<_> = (0..callers)
            .map(|v| {
                let (job, rx) = insert(1_000 + v as i64);
                writer.enqueue(job, true).unwrap();
                rx
            })
            .collect();
        held.send(()).unwrap();
        for rx in answers {
            rx.blocking_recv().unwrap().unwrap();
        }
    };
    commit_of(few);
    // `few` callers plus the held one, each batch on its own.
    assert!(writer.crowded_for().is_none(), "{:?}", writer.stats());
    assert_eq!(writer.stats().crowded_commits, 0);
    // The mark itself lasts `CROWDED_FOR` (crowding's own tests run on a clock of their own):
    // here, the count says the commit was a crowd's.
    commit_of(CROWDED_AT);
    assert_eq!(writer.stats().crowded_commits, 1);
    // It passes once the writer's commits answer one caller at a time again (polled up to a
    // generous bound).
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while writer.crowded_for().is_some() {
        assert!(Instant::now() < deadline, "still crowded");
        let (job, rx) = insert(5);
        writer.enqueue(job, true).unwrap();
        rx.blocking_recv().unwrap().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(writer.stats().crowded_commits, 1);
    writer.shutdown();
}
