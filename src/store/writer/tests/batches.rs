//! Batches: the counters, idleness, queue order, and answers given before the commit.

use super::*;

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
