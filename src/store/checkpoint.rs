//! WAL checkpoints, kept off the writer's critical path: the writer runs with automatic
//! checkpoints off, and a background thread copies the WAL back into the database with
//! PASSIVE checkpoints (which never block the writer), truncating the WAL only when it has
//! grown past a bound, so an SD card does not fill with WAL.

use std::path::Path;

use rusqlite::Connection;

use super::{StoreResult, open_connection};

/// A WAL larger than this many pages (4 KiB each: 64 MiB) is truncated after checkpointing.
pub const TRUNCATE_ABOVE_PAGES: i64 = 16_384;

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpoint {
    /// Pages in the WAL.
    pub wal_pages: i64,
    /// Pages copied back so far.
    pub checkpointed: i64,
    /// Whether the WAL was truncated.
    pub truncated: bool,
}

/// The checkpointer's own connection.
pub fn open_checkpointer(path: &Path) -> StoreResult<Connection> {
    open_connection(path)
}

/// One pass: PASSIVE, then TRUNCATE when the WAL has grown past `truncate_above` pages.
pub fn checkpoint(conn: &Connection, truncate_above: i64) -> StoreResult<Checkpoint> {
    let (_busy, wal_pages, checkpointed): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut out = Checkpoint {
        wal_pages,
        checkpointed,
        truncated: false,
    };
    if wal_pages > truncate_above {
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        out.truncated = busy == 0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_past_the_bound_is_checkpointed_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = open_connection(&path).unwrap();
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB);")
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
        assert!(c.truncated);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let n: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 200, "nothing lost");
    }
}
