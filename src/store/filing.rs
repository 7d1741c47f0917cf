//! Files new records under their owners, in the background (migrations V11 and V17 say why).
//! A record is created unfiled: it goes into a small index of unfiled rows in id order, where
//! a commit of many agents' creates changes a leaf or two, instead of into its owner index,
//! where it changed a leaf per agent, and its account index, one b-tree more a create. This
//! pass moves unfiled rows into both, `CHUNK` rows a write, many of them to a leaf.
//!
//! Until then a page in id order finds them through the unfiled index
//! (`records::page_query`), and an agent's pays for them: one whose owner has no unfiled row
//! past the page's cursor reads past all of the account's (72 ns a row on the benchmark's
//! machine).
//! So the pass runs often, and the backlog stays small, but while callers crowd the writer
//! (`Writer::crowded_for`): each of the pass's writes holds up the API writes queued behind
//! it, 2-3 ms for a chunk, and the creates it held up were a burst's slowest. In a crowd the
//! pass lets rows pile up, to `DEFERRED_AT_MOST` a table, files what comes past that in short
//! writes (a quarter of a chunk, more as the excess grows), and the rest after the burst.

use std::time::Duration;

use super::records::{self, Table};
use super::{Store, StoreError, StoreResult};
use crate::background::Stop;

/// How often a pass starts, after the last one ended.
pub const EVERY: Duration = Duration::from_millis(100);

/// How long the pass waits after a failed one.
const AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The most rows one write files. The write costs ~2.5 µs a row (2.7 ms for 1,024 on the
/// benchmark's database), and changes at most one leaf of the owner index for each owner
/// with rows in it: the larger the chunk, the more rows to a leaf.
pub const CHUNK: usize = 1024;

/// The most unfiled rows of a table the pass leaves while callers crowd the writer: a page
/// that reads past them all takes ~7 ms. At 20,000 creates a second that is 5 s of a burst.
/// Past it, the pass files the excess, in writes of a quarter of a chunk while they keep up,
/// a chunk at most: batch creates from many callers at once, more than a chunk a commit,
/// outrun it, and it catches up after them.
pub const DEFERRED_AT_MOST: u64 = 100_000;

/// Runs the pass every `EVERY` until stopped.
pub fn run(store: &Store, tables: &[&'static Table], stop: &Stop) {
    let writer = store.writer();
    let mut filer = Filer::new(tables, CHUNK, DEFERRED_AT_MOST);
    let crowded = || writer.crowded_for().is_some();
    stop.repeat(|| match filer.pass(store, crowded, stop) {
        Ok(_) => EVERY,
        Err(e) => {
            tracing::warn!(error = %e, "filing new records under their owners failed");
            AFTER_FAILURE
        }
    });
}

/// The pass and what it knows of each table's unfiled rows.
pub struct Filer {
    tables: Vec<(&'static Table, Backlog)>,
    chunk: usize,
    deferred_at_most: u64,
}

/// What the pass knows of a table's unfiled rows between two passes. A new row takes an id
/// above every row stored before, deleted ones included (`store::ids`), so those created
/// since the table last had none unfiled are at most the ids handed out since, less the rows
/// filed since. (Short by one row at most, once, for a newest row deleted before migration
/// V14 and not yet replaced: its id goes once more.)
#[derive(Debug, Default, Clone, Copy)]
struct Backlog {
    /// The table's largest id when it last had no unfiled row (0 before that is known).
    clean_upto: i64,
    /// Rows filed since.
    filed: u64,
}

impl Backlog {
    /// A table found with no unfiled row, its largest id being `max_id`.
    fn clean(max_id: i64) -> Backlog {
        Backlog {
            clean_upto: max_id,
            filed: 0,
        }
    }

    fn at_most(&self, max_id: i64) -> u64 {
        let created = u64::try_from(max_id.saturating_sub(self.clean_upto)).unwrap_or(0);
        created.saturating_sub(self.filed)
    }
}

impl Filer {
    /// A pass over `tables`, `chunk` rows a write, that leaves at most `deferred_at_most`
    /// rows of a table unfiled while told to step aside, and then files a quarter of
    /// `chunk` a write.
    pub fn new(tables: &[&'static Table], chunk: usize, deferred_at_most: u64) -> Filer {
        assert!(
            chunk > 0,
            "a write that files nothing would never end a pass"
        );
        Filer {
            tables: tables.iter().map(|&t| (t, Backlog::default())).collect(),
            chunk,
            deferred_at_most,
        }
    }

    /// Files the tables' unfiled rows (those created meanwhile too), down to
    /// `deferred_at_most` of each while `step_aside` holds (asked before each write), and
    /// none once `stop` is set. Returns how many it filed.
    pub fn pass(
        &mut self,
        store: &Store,
        step_aside: impl Fn() -> bool,
        stop: &Stop,
    ) -> StoreResult<u64> {
        // One read for every table, so that an idle server's writer has nothing to do.
        let states = store.read(|conn| {
            self.tables
                .iter()
                .map(|(t, _)| records::unfiled_state(conn, t))
                .collect::<StoreResult<Vec<_>>>()
        })?;
        let mut filed = 0;
        for ((table, backlog), (max_id, any)) in self.tables.iter_mut().zip(states) {
            let table: &'static Table = table;
            if !any {
                *backlog = Backlog::clean(max_id);
                continue;
            }
            // A pass files at most what the table held at the read, and a chunk more: batch
            // creates can keep every write full, and the other tables would wait.
            let mut budget = backlog.at_most(max_id) + self.chunk as u64;
            loop {
                let aside = step_aside();
                let keep = if aside { self.deferred_at_most } else { 0 };
                let excess = backlog.at_most(max_id).saturating_sub(keep);
                if stop.is_stopped() || budget == 0 || (aside && excess == 0) {
                    break;
                }
                // In a crowd, short writes (a quarter of a chunk), each holding up the API
                // writes queued behind it less; longer ones as the excess grows past what
                // they keep up with (an eighth of it, a chunk at most).
                let chunk = if aside {
                    let excess = usize::try_from(excess / 8).unwrap_or(usize::MAX);
                    excess.clamp((self.chunk / 4).max(1), self.chunk)
                } else {
                    self.chunk
                };
                let (n, max_id) = store.writer().write_repeatable_blocking(move |tx| {
                    Ok::<_, StoreError>((
                        records::file_unfiled(tx, table, chunk)?,
                        records::max_id(tx, table)?,
                    ))
                })?;
                filed += n as u64;
                budget = budget.saturating_sub(n as u64);
                if n < chunk {
                    // None was left when this write ran.
                    *backlog = Backlog::clean(max_id);
                    break;
                }
                backlog.filed += n as u64;
            }
        }
        Ok(filed)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;
    use crate::model::{AccountId, UserId};
    use crate::resources::{FieldKind, RESOURCES};

    /// Creates `n` unfiled rows in every resource table (no references, so no order).
    fn create(store: &Store, n: usize) {
        for res in RESOURCES {
            let table = &*res.table;
            store
                .writer()
                .write_blocking(move |tx| {
                    for i in 0..n {
                        let values = res
                            .fields
                            .iter()
                            .map(|f| match f.kind {
                                FieldKind::Enum(words) => Value::Text(words[0].into()),
                                FieldKind::Integer { .. } | FieldKind::Instant => Value::Integer(1),
                                FieldKind::Reference(_) => Value::Null,
                                _ => Value::Text(format!("row {i}")),
                            })
                            .collect();
                        records::insert(
                            tx,
                            table,
                            AccountId(101),
                            UserId(11 + i as i64 % 3),
                            values,
                            0,
                        )?;
                    }
                    Ok::<_, crate::store::StoreError>(())
                })
                .unwrap();
        }
    }

    fn unfiled(store: &Store) -> usize {
        let mut n = 0;
        for res in RESOURCES {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE filed = 0", res.table.name);
            n += store
                .read(|c| Ok(c.query_row(&sql, [], |r| r.get::<_, i64>(0))?))
                .unwrap() as usize;
        }
        n
    }

    fn commits(store: &Store) -> u64 {
        store.writer().stats().commits
    }

    /// A pass files every table's rows, a chunk a write; told to step aside, it leaves up to
    /// its bound of them; told to stop, none; with nothing to file, it leaves the writer be.
    #[test]
    fn a_pass_files_in_chunks_leaves_a_bounded_backlog_when_asked_and_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("f.db"), 1, None).unwrap();
        store
            .writer()
            .write_blocking(|tx| {
                tx.execute_batch(
                    "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
                       VALUES (101, 'a', 'pro', 'active', 0, 0); \
                     INSERT INTO users (id, account_id, email, role, permissions, created_at, updated_at) \
                       VALUES (11, 101, 'a@example.com', 'admin', 255, 0, 0), \
                              (12, 101, 'b@example.com', 'agent', 255, 0, 0), \
                              (13, 101, 'c@example.com', 'agent', 255, 0, 0);",
                )?;
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        let tables = RESOURCES.map(|r| &*r.table);
        let (go, stop) = (Stop::default(), Stop::default());
        stop.stop();
        let mut filer = Filer::new(&tables, 4, 5);
        let before = commits(&store);
        assert_eq!(filer.pass(&store, || false, &go).unwrap(), 0);
        assert_eq!(commits(&store), before, "nothing to file: no write");

        create(&store, 10);
        assert_eq!(unfiled(&store), 40);
        let before = commits(&store);
        assert_eq!(filer.pass(&store, || true, &stop).unwrap(), 0);
        assert_eq!(filer.pass(&store, || false, &stop).unwrap(), 0);
        assert_eq!(commits(&store), before, "stopped: no write");
        // Stepping aside: down to the bound of 5 a table, a quarter of a chunk (1) a write.
        assert_eq!(filer.pass(&store, || true, &go).unwrap(), 4 * 5);
        assert_eq!(commits(&store) - before, 4 * 5);
        assert_eq!(unfiled(&store), 20);
        assert_eq!(filer.pass(&store, || true, &go).unwrap(), 0);
        let before = commits(&store);
        assert_eq!(filer.pass(&store, || false, &go).unwrap(), 20);
        assert_eq!(unfiled(&store), 0);
        assert_eq!(commits(&store) - before, 4 * 2, "4 rows, then the last one");

        // The last writes found the tables clean: 7 new rows are 2 over the bound of 5.
        create(&store, 7);
        let before = commits(&store);
        assert_eq!(filer.pass(&store, || true, &go).unwrap(), 4 * 2);
        assert_eq!(commits(&store) - before, 4 * 2);
        assert_eq!(unfiled(&store), 20);
        assert_eq!(filer.pass(&store, || false, &go).unwrap(), 20);
        let before = commits(&store);
        assert_eq!(filer.pass(&store, || false, &go).unwrap(), 0);
        assert_eq!(commits(&store), before);
    }
}
