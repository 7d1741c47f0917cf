//! SQL for operations: consistent copies, integrity checks, schema versions and outbox depth.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::deliveries::{STATUSES, UNSENT};
use super::{StoreError, StoreResult};

/// Writes a consistent, compacted copy of the database behind `conn` to `to`, which must not
/// exist. `VACUUM INTO` runs as one read transaction: a live server keeps reading and writing
/// meanwhile (WAL), and the copy holds exactly the commits made before it began.
pub fn vacuum_into(conn: &Connection, to: &Path) -> StoreResult<()> {
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Corrupt(format!("path {} is not UTF-8", to.display())))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

/// Opens a database file read-only, without creating it or applying the house pragmas.
pub fn open_read_only(path: &Path) -> StoreResult<Connection> {
    Ok(Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

/// Opens an existing database file read-write (never creating one), waiting up to 10 s for
/// a lock held by a live server's writer.
pub fn open_existing(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Switches a copy to a rollback journal, so it is one self-contained file that opens
/// read-only anywhere (a WAL-mode file needs its `-shm` beside it).
pub fn use_rollback_journal(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch("PRAGMA journal_mode = DELETE")?;
    Ok(())
}

/// `PRAGMA integrity_check`: `Ok(())` when the file is sound, else SQLite's first findings.
pub fn integrity_check(conn: &Connection) -> StoreResult<Result<(), Vec<String>>> {
    let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if rows == ["ok"] { Ok(()) } else { Err(rows) })
}

/// The highest migration applied to the file, `None` when it has no migration history
/// (an empty file, or not a Switchboard database).
pub fn schema_version(conn: &Connection) -> StoreResult<Option<i64>> {
    let has_history: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'refinery_schema_history')",
        [],
        |r| r.get(0),
    )?;
    if !has_history {
        return Ok(None);
    }
    Ok(conn.query_row(
        "SELECT MAX(version) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )?)
}

/// Moves the WAL's content into the main file and truncates the WAL, so the file alone is
/// the whole database (before it is moved aside by a restore).
pub fn checkpoint_truncate(conn: &Connection) -> StoreResult<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Webhook deliveries by status: the outbox depth for metrics. The unsent ones are counted
/// in one pass over the claim index, which holds only them (V10), one count per status; the
/// delivered ones are the rest of the table's count (SQLite counts the entries of its
/// smallest index, without reading the rows).
/// Since V8 no index begins with the status, and `GROUP BY status` sorted every delivery on
/// each scrape. The deliveries of events still to be fanned out (`fanout`) count as what
/// they will be made as: pending, or paused.
pub fn deliveries_by_status(conn: &Connection) -> StoreResult<Vec<(String, i64)>> {
    // Both counts from one snapshot: a fan-out committed between them would move its
    // deliveries out of the second count before the first could see them.
    let tx = conn.unchecked_transaction()?;
    let (total, unsent) = tx.query_row(&count_by_status(), [], |r| {
        let unsent = unsent_statuses()
            .enumerate()
            .map(|(i, s)| Ok((s, r.get::<_, i64>(i + 1)?)))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((r.get::<_, i64>(0)?, unsent))
    })?;
    let delivered = total - unsent.iter().map(|(_, n)| n).sum::<i64>();
    let (to_send, to_park) = super::fanout::still_to_make(&tx, None, None)?;
    tx.finish()?;
    Ok(STATUSES
        .iter()
        .map(|s| {
            let n = unsent
                .iter()
                .find(|(u, _)| u == s)
                .map_or(delivered, |(_, n)| *n);
            let coming = match *s {
                "pending" => to_send,
                "paused" => to_park,
                _ => 0,
            };
            ((*s).to_owned(), n + coming)
        })
        .collect())
}

fn unsent_statuses() -> impl Iterator<Item = &'static str> {
    STATUSES.into_iter().filter(|s| *s != "delivered")
}

/// `SELECT` the number of deliveries, then one count for each unsent status, in the order of
/// `STATUSES`.
fn count_by_status() -> String {
    let counts: Vec<String> = unsent_statuses()
        .map(|s| format!("COUNT(*) FILTER (WHERE status = '{s}')"))
        .collect();
    format!(
        "SELECT (SELECT COUNT(*) FROM webhook_deliveries), {} FROM webhook_deliveries WHERE {UNSENT}",
        counts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_made_by_vacuum_into_is_sound_and_carries_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let src = Connection::open(dir.path().join("a.db")).unwrap();
        src.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        let copy = dir.path().join("b.db");
        vacuum_into(&src, &copy).unwrap();
        let c = open_read_only(&copy).unwrap();
        assert_eq!(integrity_check(&c).unwrap(), Ok(()));
        let n: i64 = c
            .query_row("SELECT SUM(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(schema_version(&c).unwrap(), None, "no migration history");
        assert!(vacuum_into(&src, &copy).is_err(), "never overwrites a file");
    }

    #[test]
    fn the_outbox_is_counted_by_status_in_one_pass_without_a_sort() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut c).unwrap();
        c.execute_batch(
            "INSERT INTO webhook_endpoints (id, account_id, url, events, secret, created_at, updated_at)
                 VALUES (1, 1, 'https://a.example/hook', '[\"*\"]', 'whsec_x', 0, 0);
             INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at)
                 VALUES (1, 1, 'msg_1', 'lead.created', '{}', 0);
             INSERT INTO webhook_deliveries (event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
                 VALUES (1, 1, 'pending', 0, 0, 0), (1, 1, 'dead', 0, 0, 0), (1, 1, 'pending', 0, 0, 0),
                        (1, 1, 'delivered', 0, 0, 0), (1, 1, 'failed', 0, 0, 0),
                        (1, 1, 'delivered', 0, 0, 0), (1, 1, 'delivered', 0, 0, 0);",
        )
        .unwrap();
        let counts = deliveries_by_status(&c).unwrap();
        let expected = [
            ("pending", 2),
            ("delivered", 3),
            ("failed", 1),
            ("dead", 1),
            ("paused", 0),
        ];
        assert_eq!(counts, expected.map(|(s, n)| (s.to_owned(), n)));
        // Events whose deliveries are still to be made count as what those will be made as,
        // by their endpoints' state now: to the enabled endpoint pending, to the disabled
        // one paused, to a removed one nothing.
        c.execute_batch(
            "UPDATE webhook_fanout SET upto = 1;
             INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, created_at, updated_at)
                 VALUES (2, 1, 'https://b.example/hook', '[\"*\"]', 'whsec_y', 0, 0, 0);
             INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at, endpoint_ids)
                 VALUES (2, 1, 'msg_2', 'lead.created', '{}', 0, '[1,2,9]'),
                        (3, 1, 'msg_3', 'lead.updated', '{}', 0, '[1]');",
        )
        .unwrap();
        let counts = deliveries_by_status(&c).unwrap();
        let expected = [
            ("pending", 4),
            ("delivered", 3),
            ("failed", 1),
            ("dead", 1),
            ("paused", 1),
        ];
        assert_eq!(counts, expected.map(|(s, n)| (s.to_owned(), n)));
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", count_by_status()))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("COVERING INDEX webhook_deliveries_unsent"))
                && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
