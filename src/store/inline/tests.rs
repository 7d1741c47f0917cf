use super::*;
use crate::store::open_connection;

/// Whether this thread holds a snapshot of `store`'s database.
fn holds_snapshot(store: &Store) -> bool {
    READERS.with(|cell| {
        cell.borrow()
            .iter()
            .any(|r| r.path == store.path && r.held.is_some() && !r.conn.is_autocommit())
    })
}

fn count_all(c: &Connection) -> StoreResult<i64> {
    Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
}

#[test]
fn a_read_after_a_commit_sees_it_though_a_snapshot_was_held() {
    let (_dir, store) = store_with_rows(10);
    // However long the disk takes to commit, the snapshot is still young enough to keep.
    MAX_AGE.set(Duration::from_secs(3600));
    assert_eq!(store.read_inline(count_all).unwrap(), 10);
    assert!(holds_snapshot(&store));
    for expected in 11..=13 {
        store
            .writer()
            .write_blocking(|c| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t (v) VALUES (0)", [])?)
            })
            .unwrap();
        // At once, not after the snapshot's age runs out.
        assert_eq!(store.read_inline(count_all).unwrap(), expected);
    }
    assert!(holds_snapshot(&store));
}

#[test]
fn reads_share_a_snapshot_and_another_process_write_is_seen_once_it_is_too_old() {
    let (dir, store) = store_with_rows(10);
    MAX_AGE.set(Duration::from_secs(3600));
    assert_eq!(store.read_inline(count_all).unwrap(), 10);
    // A write the writer does not know of, as another process would make.
    let other = open_connection(&dir.path().join("i.db")).unwrap();
    other.execute("INSERT INTO t (v) VALUES (0)", []).unwrap();
    assert_eq!(
        store.read_inline(count_all).unwrap(),
        10,
        "the second read used the first one's snapshot"
    );
    MAX_AGE.set(Duration::ZERO);
    assert_eq!(
        store.read_inline(count_all).unwrap(),
        11,
        "the other connection's write is seen once the snapshot is too old"
    );
}

#[test]
fn a_snapshot_is_given_up_when_the_wal_is_to_start_over_or_a_read_fails() {
    let (_dir, store) = store_with_rows(10);
    store.read_inline(count_all).unwrap();
    assert!(holds_snapshot(&store));
    store.writer().finish_checkpoint();
    assert_eq!(store.read_inline(count_all).unwrap(), 10);
    assert!(!holds_snapshot(&store), "no snapshot kept past the read");
    // Not even once the writer has taken the request up: only once the checkpointer has
    // seen the WAL start over.
    store
        .writer()
        .write_blocking(|c| -> StoreResult<usize> {
            Ok(c.execute("INSERT INTO t (v) VALUES (0)", [])?)
        })
        .unwrap();
    assert_eq!(store.read_inline(count_all).unwrap(), 11);
    assert!(!holds_snapshot(&store));
    store.writer().wal_within_bound();
    assert_eq!(store.read_inline(count_all).unwrap(), 11);
    assert!(holds_snapshot(&store));
    let failed = store.read_inline(|c| {
        Ok(c.query_row("SELECT nothing FROM nowhere", [], |r| r.get::<_, i64>(0))?)
    });
    assert!(failed.is_err());
    assert!(!holds_snapshot(&store));
}

#[test]
fn taking_a_snapshot_wakes_the_timer_that_will_end_it() {
    let (_dir, store) = store_with_rows(10);
    MAX_AGE.set(Duration::from_secs(3600));
    let taken = Store::snapshot_taken();
    let waited = || {
        actix_web::rt::Runtime::new().unwrap().block_on(async {
            let wait = taken.notified();
            actix_web::rt::time::timeout(Duration::from_millis(50), wait)
                .await
                .is_ok()
        })
    };
    store.read_inline(count_all).unwrap();
    assert!(
        waited(),
        "a snapshot taken before the timer waits is not missed"
    );
    assert!(!waited(), "one notice a snapshot");
    store.read_inline(count_all).unwrap();
    assert!(!waited(), "a kept snapshot is no new one");
}

#[test]
fn reads_stopped_by_their_budget_leave_the_connection_whole() {
    let (_dir, store) = store_with_rows(5_000);
    for _ in 0..300 {
        let long = store.try_read_inline(1_000, count_rows).unwrap();
        assert!(long.is_none());
        // The snapshot went with the stopped read; its ROLLBACK ran outside the budget.
        READERS.with(|cell| assert!(!cell.borrow()[0].stuck));
        assert!(!holds_snapshot(&store));
        assert_eq!(store.read_inline(count_all).unwrap(), 5_000);
    }
}

#[test]
fn a_connection_that_could_not_end_its_transaction_is_replaced() {
    let (_dir, store) = store_with_rows(10);
    store.read_inline(count_all).unwrap();
    READERS.with(|cell| cell.borrow_mut()[0].stuck = true);
    assert_eq!(store.read_inline(count_all).unwrap(), 10);
    READERS.with(|cell| {
        let readers = cell.borrow();
        assert_eq!(readers.len(), 1);
        assert!(!readers[0].stuck, "a fresh connection took its place");
    });
    assert_eq!(store.pool_stats().snapshots_held, 1);
}

#[test]
fn an_idle_snapshot_is_released_and_then_lets_the_wal_start_over() {
    let (dir, store) = store_with_rows(10);
    store.read_inline(count_all).unwrap();
    store
        .writer()
        .write_blocking(|c| -> StoreResult<usize> {
            Ok(c.execute("INSERT INTO t (v) VALUES (0)", [])?)
        })
        .unwrap();
    // The snapshot this thread holds predates the write: a checkpoint cannot start the
    // WAL over while it is held.
    let other = open_connection(&dir.path().join("i.db")).unwrap();
    let truncate = || -> i64 {
        other
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap()
    };
    other.busy_timeout(Duration::ZERO).unwrap();
    assert_eq!(truncate(), 1, "busy: a reader holds the WAL");
    MAX_AGE.set(Duration::from_secs(3600));
    assert!(
        Store::release_idle_snapshots(),
        "still held: not yet too old"
    );
    assert!(holds_snapshot(&store));
    MAX_AGE.set(Duration::ZERO);
    assert!(!Store::release_idle_snapshots(), "none held any more");
    assert!(!holds_snapshot(&store));
    assert_eq!(truncate(), 0, "the WAL started over");
}

/// A store on a fresh database with a table `t` of `n` rows.
fn store_with_rows(n: u32) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("i.db"), 2, None).unwrap();
    store
        .writer()
        .write_blocking(move |c| -> StoreResult<usize> {
            c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")?;
            Ok(c.execute(
                "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < ?1) \
                 INSERT INTO t (v) SELECT v FROM n",
                [n],
            )?)
        })
        .unwrap();
    (dir, store)
}

fn count_rows(c: &Connection) -> StoreResult<i64> {
    Ok(c.query_row("SELECT count(*) FROM t WHERE v % 2 = 0", [], |r| r.get(0))?)
}

#[test]
fn a_read_within_its_budget_answers_and_one_beyond_it_is_stopped() {
    let (_dir, store) = store_with_rows(5_000);
    // Counting 5,000 rows takes tens of thousands of steps.
    let short = store.try_read_inline(1_000_000, count_rows);
    assert_eq!(short.unwrap(), Some(2_500));
    let long = store.try_read_inline(1_000, count_rows);
    assert!(long.unwrap().is_none());
    assert_eq!(store.pool_stats().moved, 1);
    // The budget goes with the read: the same thread's next reads run to the end, and
    // a real error is still an error.
    assert_eq!(store.read_inline(count_rows).unwrap(), 2_500);
    let failed = store.try_read_inline(1_000_000, |c| {
        Ok(c.query_row("SELECT nothing FROM nowhere", [], |r| r.get::<_, i64>(0))?)
    });
    assert!(failed.is_err());
}
