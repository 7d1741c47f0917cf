//! Files new records under their owners, in the background (migration V11 says why). A
//! record is created unfiled: it goes into a small index of unfiled rows in id order, where a
//! commit of many agents' creates changes a leaf or two, instead of into its owner index,
//! where it changed a leaf per agent. This pass moves unfiled rows into the owner index a
//! chunk at a time, many rows to a leaf. Until then an agent's page finds them through the
//! unfiled index (`records::page_query`), so nothing waits on the pass but the cost of that
//! page, which grows with the rows left unfiled.
//!
//! The pass steps aside while callers crowd the writer (`Writer::crowded_for`), for
//! `DEFER_AT_MOST` of a crowd at most: each of its writes holds up the API writes queued
//! behind it, by 2-3 ms a chunk, and the creates it held up were a burst's slowest. Filed
//! after the burst, a burst's rows share leaves all the more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::records::{self, Table};
use super::{Store, StoreResult};

/// How often the pass runs.
pub const EVERY: Duration = Duration::from_millis(200);

/// The most rows one write files: each write holds up the API's writes queued behind it
/// (~2.5 µs a row), and files what at most one leaf per owner with rows in it costs.
pub const CHUNK: usize = 1024;

/// How long the pass waits out a crowd at most. Past that the load is the server's, not a
/// burst's, and an agent's page would read ever more unfiled rows (20,000 a second of
/// creates leave 600,000 in 30 s).
pub const DEFER_AT_MOST: Duration = Duration::from_secs(30);

/// Runs the pass every `every` until stopped.
pub fn run(store: &Store, tables: &[&'static Table], every: Duration, stop: &AtomicBool) {
    let writer = store.writer();
    let crowded = || writer.crowded_for().is_some_and(|d| d < DEFER_AT_MOST);
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(every);
        if crowded() {
            continue;
        }
        if let Err(e) = file_all(store, tables, CHUNK, crowded) {
            tracing::warn!(error = %e, "filing new records under their owners failed");
        }
    }
}

/// Files every row of `tables` left unfiled, `chunk` rows a write (rows created meanwhile
/// included, while they keep coming faster than a chunk a write), until `step_aside` says
/// otherwise between two writes; returns how many.
pub fn file_all(
    store: &Store,
    tables: &[&'static Table],
    chunk: usize,
    step_aside: impl Fn() -> bool,
) -> StoreResult<usize> {
    let mut filed = 0;
    for &table in tables {
        // A read, so that an idle server's writer has nothing to do.
        if !store.read(|conn| records::has_unfiled(conn, table))? {
            continue;
        }
        loop {
            let n = store
                .writer()
                .write_repeatable_blocking(move |tx| records::file_unfiled(tx, table, chunk))?;
            filed += n;
            if n < chunk || step_aside() {
                break;
            }
        }
    }
    Ok(filed)
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

    /// A pass files every table's rows, a chunk a write; while it is told to step aside it
    /// stops after one chunk of each table, and the next pass goes on from there.
    #[test]
    fn a_pass_files_every_row_in_chunks_and_steps_aside_between_them() {
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
        assert_eq!(file_all(&store, &tables, 4, || false).unwrap(), 0);
        create(&store, 10);
        assert_eq!(unfiled(&store), 40);
        assert_eq!(file_all(&store, &tables, 4, || true).unwrap(), 16);
        assert_eq!(unfiled(&store), 24);
        let commits = store.writer().stats().commits;
        assert_eq!(file_all(&store, &tables, 4, || false).unwrap(), 24);
        assert_eq!(unfiled(&store), 0);
        // Two writes a table: 4 rows, then the last 2.
        assert_eq!(store.writer().stats().commits - commits, 8);
        let commits = store.writer().stats().commits;
        assert_eq!(file_all(&store, &tables, 4, || false).unwrap(), 0);
        assert_eq!(
            store.writer().stats().commits,
            commits,
            "with nothing to file, the writer is left alone"
        );
    }
}
