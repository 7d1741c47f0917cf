//! Reads on the calling server worker's own connection: no thread hop to the blocking pool
//! and no pool checkout, which together were a sixth of a list page's CPU. Only for reads
//! that take microseconds. A read that is usually short but may not be (a page whose filter
//! can skip many rows) runs on a budget of SQLite steps and is stopped when the budget runs
//! out, so that its caller can run it on the blocking pool instead: a worker thread is never
//! held up for longer than the budget.

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{Store, StoreError, StoreResult, apply_pragmas};

/// Virtual machine steps between two looks at the budget.
const STEPS_PER_CHECK: c_int = 100;

thread_local! {
    /// Each server worker thread's own read connections, by database file.
    static READERS: RefCell<Vec<(PathBuf, Connection)>> = const { RefCell::new(Vec::new()) };
    /// Looks at the budget left to the budgeted read running on this thread; `None` while
    /// the read running has no budget.
    static CHECKS_LEFT: Cell<Option<u32>> = const { Cell::new(None) };
    /// Set when the budget ran out and SQLite was told to stop.
    static STOPPED: Cell<bool> = const { Cell::new(false) };
}

impl Store {
    /// Runs an indexed point read on this thread's own connection. Only for reads that take
    /// microseconds (a primary-key or unique-index lookup); anything longer goes through
    /// [`Store::read`] on a blocking thread, or [`Store::try_read_inline`].
    pub fn read_inline<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let index = match readers.iter().position(|(p, _)| *p == self.path) {
                Some(i) => i,
                None => {
                    let conn = Connection::open_with_flags(
                        &self.path,
                        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    apply_pragmas(&conn, "NORMAL")?;
                    conn.progress_handler(STEPS_PER_CHECK, Some(out_of_budget))?;
                    readers.push((self.path.clone(), conn));
                    readers.len() - 1
                }
            };
            f(&readers[index].1)
        })
    }

    /// Runs `f` inline like [`Store::read_inline`], but stops it once SQLite has run about
    /// `max_steps` steps of its virtual machine, and then answers `None` (whatever `f` did
    /// is undone: a read did nothing). The caller runs it again on the blocking pool.
    pub fn try_read_inline<R>(
        &self,
        max_steps: u32,
        f: impl FnOnce(&Connection) -> StoreResult<R>,
    ) -> StoreResult<Option<R>> {
        let _budget = Budget::start(max_steps.div_ceil(STEPS_PER_CHECK.unsigned_abs()));
        match self.read_inline(f) {
            Err(StoreError::Sqlite(e))
                if STOPPED.get()
                    && e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) =>
            {
                self.reads.moved.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            other => other.map(Some),
        }
    }
}

/// The budget of the read running on this thread, cleared when dropped (also on a panic,
/// so that the next point read on this thread runs without one).
struct Budget;

impl Budget {
    fn start(checks: u32) -> Budget {
        CHECKS_LEFT.set(Some(checks));
        STOPPED.set(false);
        Budget
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        CHECKS_LEFT.set(None);
        STOPPED.set(false);
    }
}

/// SQLite's progress handler on the inline connections: true stops the running statement.
fn out_of_budget() -> bool {
    match CHECKS_LEFT.get() {
        None => false,
        Some(0) => {
            STOPPED.set(true);
            true
        }
        Some(left) => {
            CHECKS_LEFT.set(Some(left - 1));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
