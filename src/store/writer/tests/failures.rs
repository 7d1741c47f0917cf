//! Failed and panicking writes: each answered and undone alone, its batch's others kept or rerun.

use super::*;

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
