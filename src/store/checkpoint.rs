//! WAL checkpoints, kept off the writer's critical path: the writer runs with automatic
//! checkpoints off, and a background thread copies the WAL back into the database with
//! PASSIVE checkpoints (which never block the writer).
//!
//! The WAL starts over from its beginning, instead of growing, only when a write begins just
//! after a pass that copied all of it. Under a steady stream of writes a pass every half
//! second never gets there: the WAL grew by tens of MB a second, and the blocking checkpoint
//! that then bounded it held every write back for up to 100 ms. So a pass that finds itself
//! behind is followed 10 ms later by another (each copies little), and past `RESTART_ABOVE`
//! a RESTART checkpoint makes the next write start the WAL over: it holds writes back only
//! for what arrived since the last pass. The writer's `journal_size_limit` then cuts the file
//! back, so an SD card never holds a large WAL for long.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreResult, open_connection, retry_soon};

/// A WAL longer than this many pages (4 KiB each: 16 MiB) is restarted after checkpointing.
pub const RESTART_ABOVE_PAGES: i64 = 4_096;
/// The size (bytes) the writer cuts the WAL file back to when it starts the WAL over.
pub const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;
/// The pause before the next pass when the last one did not copy the whole WAL.
pub const CATCH_UP: Duration = Duration::from_millis(10);

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpoint {
    /// Pages in the WAL.
    pub wal_pages: i64,
    /// Pages copied back so far.
    pub checkpointed: i64,
    /// Whether the WAL was restarted (the next write starts it over).
    pub restarted: bool,
}

/// The checkpointer's own connection. A RESTART waits for the write lock, which a busy
/// writer takes batch after batch with short gaps between: it looks every 2 ms, where
/// SQLite's own busy handler sleeps up to 100 ms between looks and can miss the gaps for
/// seconds while the WAL grows (85 MB after a 10 s create burst in the benchmark).
pub fn open_checkpointer(path: &Path) -> StoreResult<Connection> {
    let conn = open_connection(path)?;
    conn.busy_handler(Some(retry_soon))?;
    Ok(conn)
}

/// One pass: PASSIVE, then RESTART when the WAL has grown past `restart_above` pages.
pub fn checkpoint(conn: &Connection, restart_above: i64) -> StoreResult<Checkpoint> {
    let (_busy, wal_pages, checkpointed): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut out = Checkpoint {
        wal_pages,
        checkpointed,
        restarted: false,
    };
    if wal_pages > restart_above {
        let (busy, wal_pages, checkpointed): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        out = Checkpoint {
            wal_pages,
            checkpointed,
            restarted: busy == 0,
        };
    }
    Ok(out)
}

/// When to checkpoint next: soon when the last pass was behind, else after `idle`.
pub fn next_wait(last: &Checkpoint, idle: Duration) -> Duration {
    if last.checkpointed < last.wal_pages && !last.restarted {
        CATCH_UP
    } else {
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_pass_is_followed_soon_a_complete_one_after_the_interval() {
        let idle = Duration::from_millis(500);
        let behind = Checkpoint {
            wal_pages: 900,
            checkpointed: 850,
            restarted: false,
        };
        let caught_up = Checkpoint {
            wal_pages: 900,
            checkpointed: 900,
            restarted: false,
        };
        assert_eq!(next_wait(&behind, idle), CATCH_UP);
        assert_eq!(next_wait(&caught_up, idle), idle);
        assert_eq!(next_wait(&Checkpoint::default(), idle), idle);
    }

    #[test]
    fn a_wal_past_the_bound_is_restarted_and_cut_back_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = open_connection(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 100000; \
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        for _ in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        let wal = dir.path().join("wal.db-wal");
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 500_000,
            "the WAL grew"
        );
        let c = checkpoint(&open_checkpointer(&path).unwrap(), 10).unwrap();
        assert!(c.wal_pages >= 200 && c.checkpointed == c.wal_pages, "{c:?}");
        assert!(c.restarted);
        writer
            .execute("INSERT INTO t VALUES (zeroblob(10))", [])
            .unwrap();
        assert!(
            std::fs::metadata(&wal).unwrap().len() <= 100_000,
            "the next write started the WAL over and cut the file back"
        );
        let n: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 201, "nothing lost");
    }
}
