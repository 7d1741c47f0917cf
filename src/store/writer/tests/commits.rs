//! When commits come: deferred for writes nobody waits for, at shutdown, for a crowd of callers.

use std::time::Instant;

use super::*;

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
