//! WAL checkpoints, kept off the writer's critical path: the writer runs with automatic
//! checkpoints off, and a background thread copies the WAL back into the database with
//! PASSIVE checkpoints (which never block the writer).
//!
//! The WAL starts over from its beginning, instead of growing, only when a write begins just
//! after a pass that copied all of it, and while no reader holds a snapshot taken before that
//! pass (the server's workers keep theirs between reads, except while a restart is wanted:
//! `Writer::restart_pending`). Under a steady stream of writes a pass every half
//! second never gets there: the WAL grew by tens of MB a second. So a pass that finds itself
//! behind is followed 10 ms later by another (each copies little), and past `RESTART_ABOVE_PAGES`
//! the checkpointer syncs the database file and has the writer copy the last few batches'
//! pages back between two batches (`Writer::finish_checkpoint`): its next batch starts the
//! WAL over, writing over the file from its beginning (or, when a reader still used the WAL,
//! one of the few batches after it: the writer tries again before each).
//!
//! The WAL file keeps its size while writes stream in, and is cut back at the first restart
//! after they slow down (`wal_file_limit`). Cut back at every restart, it grew again after
//! each one: its blocks were freed (trimmed, on a `discard` mount) and allocated anew, and a
//! sync that follows an allocation also writes the file's new block map. A fixed bound above
//! the size the file reached under a stream of creates did the same once a faster host grew
//! it past the bound.

use std::fs::File;
use std::mem::ManuallyDrop;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{StoreError, StoreResult, Writer, open_connection};

/// A WAL longer than this many pages (4 KiB each: 16 MiB) is started over after the pass
/// (by the writer, see `Checkpointer::pass`).
pub const RESTART_ABOVE_PAGES: i64 = 4_096;
/// The most (bytes) the WAL file keeps when the WAL starts over while writes stream in (see
/// `wal_file_limit`). Under a stream of creates the file reaches what the writer appends
/// between two of the checkpointer's restart requests: 40-57 MB at 5-6k creates a second,
/// 82-94 MB at 15-16.5k. A file past this bound is cut back at every restart, which costs a
/// sync of its block map each time, but the disk it takes stays bounded.
pub const WAL_STREAMING_LIMIT: i64 = 256 * 1024 * 1024;
/// The size (bytes) the WAL file is cut back to at other times: room for twice the restart
/// bound's frames (4 KiB pages and their 24-byte headers), so that a WAL that starts over by
/// itself, after a pass copied all of it, is not cut back each time.
pub const WAL_QUIET_LIMIT: i64 = 2 * RESTART_ABOVE_PAGES * (4096 + 24) + 32;
/// Passes in a row that find the WAL within the bound, after the last request to start it
/// over, before writes count as slowed down (about 2 s of passes). Near the rate at which
/// passes alternate between past the bound and within it, the file would otherwise be cut
/// back by one restart and grown again before the next.
pub const QUIET_PASSES: u32 = 4;
/// The pause before the next pass when the last one did not copy the whole WAL.
pub const CATCH_UP: Duration = Duration::from_millis(10);

/// The writer's `journal_size_limit`: how much of its file the WAL keeps when it starts over
/// (a larger file is cut back at the first commit after that). Large while writes stream in
/// (fewer than `QUIET_PASSES` passes found the WAL within the bound since the last request to
/// start it over), so that each round of the WAL reuses the file's blocks; small otherwise, so
/// that a burst's file is given back at the first restart after writes slow down. Without
/// writes the file keeps its size (SQLite deletes it when the server stops).
pub fn wal_file_limit(streaming: bool) -> i64 {
    if streaming {
        WAL_STREAMING_LIMIT
    } else {
        WAL_QUIET_LIMIT
    }
}

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpoint {
    /// Pages in the WAL.
    pub wal_pages: i64,
    /// Pages copied back so far.
    pub checkpointed: i64,
    /// Whether the writer was asked to start the WAL over.
    pub restart_asked: bool,
    /// How long the pass took, its syncs included.
    pub took: Duration,
}

/// The checkpointer's own connection, and the database file, which it syncs itself.
pub struct Checkpointer {
    conn: Connection,
    /// Never closed: closing any descriptor of a file drops every POSIX lock the process holds
    /// on it, SQLite's included, and another process (the CLI) could then take the database
    /// for its own and checkpoint or delete the WAL under the server. SQLite's own files
    /// guard against that; this one is kept open until the process ends instead.
    db: ManuallyDrop<File>,
}

/// Opens the checkpointer. It runs only PASSIVE checkpoints, which never wait for a lock, so
/// it needs no busy handler beyond the house one.
pub fn open_checkpointer(path: &Path) -> StoreResult<Checkpointer> {
    let conn = open_connection(path)?;
    let db = ManuallyDrop::new(File::open(path).map_err(StoreError::Io)?);
    Ok(Checkpointer { conn, db })
}

impl Checkpointer {
    /// One PASSIVE pass; when the WAL has grown past `restart_above` pages, the writer is
    /// then asked to start it over.
    ///
    /// A PASSIVE pass syncs the database file only when it copied the whole WAL, which it
    /// never does while writes keep coming. The pages copied since are synced here, with
    /// writes going on, so that the writer's own pass has only its few pages to sync.
    pub fn pass(&self, restart_above: i64, writer: &Writer) -> StoreResult<Checkpoint> {
        let started = Instant::now();
        let result = self.copy_back(restart_above, writer);
        let took = started.elapsed();
        // Counted failed or not: the time went by either way.
        writer.note_checkpoint_pass(took);
        result.map(|out| Checkpoint { took, ..out })
    }

    fn copy_back(&self, restart_above: i64, writer: &Writer) -> StoreResult<Checkpoint> {
        let mut out = self.run()?;
        if out.wal_pages <= restart_above {
            writer.wal_within_bound();
        } else {
            self.db.sync_data().map_err(StoreError::Io)?;
            // What came during the sync, so that the writer's share is smaller still.
            out = self.run()?;
            writer.finish_checkpoint();
            out.restart_asked = true;
        }
        Ok(out)
    }

    fn run(&self) -> StoreResult<Checkpoint> {
        let (_busy, wal_pages, checkpointed) = passive(&self.conn)?;
        Ok(Checkpoint {
            wal_pages,
            checkpointed,
            restart_asked: false,
            took: Duration::ZERO,
        })
    }
}

/// One PASSIVE checkpoint on `conn`: whether it met a lock (1) or not (0), the pages in the
/// WAL, and the pages copied back so far.
pub(crate) fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// When to checkpoint next: soon when the last pass was behind, else after `idle`.
pub fn next_wait(last: &Checkpoint, idle: Duration) -> Duration {
    if last.checkpointed < last.wal_pages && !last.restart_asked {
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
            ..Checkpoint::default()
        };
        let caught_up = Checkpoint {
            wal_pages: 900,
            checkpointed: 900,
            ..Checkpoint::default()
        };
        assert_eq!(next_wait(&behind, idle), CATCH_UP);
        assert_eq!(next_wait(&caught_up, idle), idle);
        assert_eq!(next_wait(&Checkpoint::default(), idle), idle);
    }

    /// A store on `wal.db` in a fresh directory, with an empty table `t (x BLOB)`.
    fn store_with_blob_table() -> (tempfile::TempDir, crate::store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("wal.db"), 1, None).unwrap();
        store
            .writer()
            .write_blocking(|c| -> StoreResult<()> {
                Ok(c.execute_batch("CREATE TABLE t (x BLOB)")?)
            })
            .unwrap();
        (dir, store)
    }

    /// One row of `size` zero bytes into `t`, in a batch of its own.
    fn insert_blob(writer: &Writer, size: i64) {
        writer
            .write_blocking(move |c| -> StoreResult<usize> {
                Ok(c.execute("INSERT INTO t VALUES (zeroblob(?1))", [size])?)
            })
            .unwrap();
    }

    #[test]
    fn a_wal_past_the_bound_is_started_over_by_the_writers_next_batch() {
        let (dir, store) = store_with_blob_table();
        let (path, writer) = (dir.path().join("wal.db"), store.writer());
        let insert = |size| insert_blob(writer, size);
        for _ in 0..200 {
            insert(4000);
        }
        let checkpointer = open_checkpointer(&path).unwrap();
        let c = checkpointer.pass(10, writer).unwrap();
        assert!(c.wal_pages >= 200 && c.checkpointed == c.wal_pages, "{c:?}");
        assert!(c.restart_asked);
        insert(10);
        let c = checkpointer.pass(10_000, writer).unwrap();
        assert!(c.wal_pages < 10, "the WAL started over: {c:?}");
        assert!(!c.restart_asked);
        // Writes after the checkpointer's pass: the writer copies them back itself before
        // its next batch, which then starts the WAL over.
        for _ in 0..100 {
            insert(4000);
        }
        writer.finish_checkpoint();
        insert(10);
        let c = checkpointer.pass(10_000, writer).unwrap();
        assert!(c.wal_pages < 10, "the WAL started over: {c:?}");
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 302, "nothing lost");
        writer.shutdown();
    }

    #[test]
    fn a_wal_past_the_bound_starts_over_though_reads_keep_snapshots_between_writes() {
        let (dir, store) = store_with_blob_table();
        let (path, writer) = (dir.path().join("wal.db"), store.writer());
        let checkpointer = open_checkpointer(&path).unwrap();
        let mut started_over = 0;
        // Writes and reads taking turns, as under a mixed load: every read follows a commit,
        // so it takes a snapshot and keeps it until after the next write has begun.
        for _ in 0..60 {
            insert_blob(writer, 40_000);
            store
                .read_inline(|c| {
                    Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?)
                })
                .unwrap();
            let c = checkpointer.pass(50, writer).unwrap();
            if c.wal_pages < 50 {
                started_over += 1;
            }
            assert!(c.wal_pages < 500, "the WAL keeps growing: {c:?}");
        }
        assert!(
            started_over >= 3,
            "the WAL started over {started_over} times"
        );
    }

    #[test]
    fn the_writers_stats_count_passes_restarts_and_the_wals_length() {
        let (dir, store) = store_with_blob_table();
        let (path, writer) = (dir.path().join("wal.db"), store.writer());
        let checkpointer = open_checkpointer(&path).unwrap();
        let before = writer.stats();
        for _ in 0..50 {
            insert_blob(writer, 4000);
        }
        let grown = writer.stats().wal_frames;
        assert!(grown >= 50, "one page a row at least: {grown}");
        let c = checkpointer.pass(10_000, writer).unwrap();
        assert!(!c.restart_asked);
        let c = checkpointer.pass(10, writer).unwrap();
        assert!(c.restart_asked);
        insert_blob(writer, 10);
        let after = writer.stats();
        assert_eq!(after.checkpoint_passes - before.checkpoint_passes, 2);
        assert_eq!(after.restarts_asked - before.restarts_asked, 1);
        // Two passes, one with a sync of the database file: well over a microsecond.
        assert!(after.checkpoint_seconds > before.checkpoint_seconds);
        assert_eq!(after.wal_restarts - before.wal_restarts, 1, "{after:?}");
        assert!(after.wal_frames < 10, "started over: {after:?}");
        writer.shutdown();
    }

    #[test]
    fn a_restart_a_reader_held_off_is_tried_again_at_the_next_batch() {
        let (dir, store) = store_with_blob_table();
        let (path, writer) = (dir.path().join("wal.db"), store.writer());
        let insert = |size| insert_blob(writer, size);
        for _ in 0..200 {
            insert(4000);
        }
        // Another connection's snapshot, taken before the checkpointer's request.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let rows: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 200);
        let checkpointer = open_checkpointer(&path).unwrap();
        assert!(checkpointer.pass(10, writer).unwrap().restart_asked);
        insert(10);
        let held = checkpointer.run().unwrap();
        assert!(held.wal_pages >= 200, "the reader held it off: {held:?}");
        assert_eq!(writer.stats().wal_restarts, 0, "asked for, not done");
        reader.execute_batch("COMMIT").unwrap();
        // No new request from the checkpointer: the writer tries again on its own.
        insert(10);
        let c = checkpointer.run().unwrap();
        assert!(c.wal_pages < 10, "the WAL started over: {c:?}");
        let stats = writer.stats();
        assert_eq!((stats.restarts_asked, stats.wal_restarts), (1, 1));
        writer.shutdown();
    }

    #[test]
    fn a_restarted_wal_keeps_its_file_while_writes_stream_in_and_gives_it_back_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let wal = dir.path().join("wal.db-wal");
        let store = crate::store::Store::open(&path, 1, None).unwrap();
        let writer = store.writer();
        let limit = |insert: bool| -> StoreResult<i64> {
            writer.write_blocking(move |c| -> StoreResult<i64> {
                if insert {
                    c.execute("INSERT INTO t VALUES (zeroblob(10))", [])?;
                }
                Ok(c.query_row("PRAGMA journal_size_limit", [], |r| r.get(0))?)
            })
        };
        assert_eq!(limit(false).unwrap(), WAL_QUIET_LIMIT);
        // 40 MB in one commit: past the quiet limit.
        writer
            .write_blocking(|c| -> StoreResult<()> {
                c.execute_batch(
                    "CREATE TABLE t (x BLOB);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
                     INSERT INTO t SELECT zeroblob(4000) FROM n;",
                )?;
                Ok(())
            })
            .unwrap();
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(grown > WAL_QUIET_LIMIT as u64, "{grown}");
        let checkpointer = open_checkpointer(&path).unwrap();
        assert!(checkpointer.pass(10, writer).unwrap().restart_asked);
        // The restart the checkpointer asked for writes over the file in place.
        assert_eq!(limit(true).unwrap(), WAL_STREAMING_LIMIT);
        assert_eq!(writer.stats().wal_restarts, 1);
        // Each pass now finds the WAL within the bound and copies all of it, so the next write
        // starts it over by itself. The file stays until `QUIET_PASSES` such passes in a row.
        for passes in 1..=QUIET_PASSES {
            let c = checkpointer.pass(10_000, writer).unwrap();
            assert!(c.wal_pages < 10, "the WAL started over: {c:?}");
            assert!(!writer.restart_pending());
            let (want, size) = if passes < QUIET_PASSES {
                (WAL_STREAMING_LIMIT, grown)
            } else {
                (WAL_QUIET_LIMIT, WAL_QUIET_LIMIT as u64)
            };
            assert_eq!(limit(true).unwrap(), want, "after {passes} passes");
            let len = std::fs::metadata(&wal).unwrap().len();
            assert_eq!(len, size, "the file after {passes} passes");
        }
        assert_eq!(
            writer.stats().wal_restarts,
            1,
            "the later restarts were SQLite's own"
        );
        writer.shutdown();
    }
}
