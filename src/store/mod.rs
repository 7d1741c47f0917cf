//! Everything that speaks SQL. Repository functions are synchronous and take `&Connection`,
//! so several compose inside one transaction; nothing here knows about HTTP.

pub mod accounts;
pub mod audit;
pub mod checkpoint;
pub mod deliveries;
pub mod fanout;
mod file_access;
pub mod filing;
pub mod generation;
pub mod idempotency;
pub mod ids;
mod inline;
mod migrate;
pub mod ops;
pub mod records;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use inline::SNAPSHOT_MAX_AGE;
pub use migrate::{Applied, SCHEMA_VERSION, migrate, migrate_to};
pub use writer::{CROWDED_AT, CROWDED_FOR, Writer, WriterStats};

use crate::model::{AccountId, EndpointId, TokenId, UserId};

/// What can go wrong below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No pooled reader connection could be had.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database file cannot be opened, for a reason found on the file system (a missing
    /// or read-only directory, ...): the reason alone, complete.
    #[error("{0}")]
    CannotOpen(String),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database was written by a newer Switchboard.
    #[error(
        "the database is at schema version {found}, newer than this binary knows ({known}); \
         run the newer switchboard or restore a backup"
    )]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this binary embeds.
        known: i64,
    },
    /// The file holds another application's tables and no Switchboard migration history.
    #[error(
        "not a Switchboard database: it holds another application's tables (such as `{table}`) and no Switchboard \
         migration history; give --db a new file or a Switchboard database"
    )]
    NotSwitchboard {
        /// One of its tables, to recognise the file by.
        table: String,
    },
    /// The writer queue is full: the server is overloaded.
    #[error("the write queue is full")]
    Busy,
    /// The transaction this write ran in was rolled back under it: SQLite dropped it on a
    /// full disk or an I/O error, or another write of the batch could not be undone alone.
    /// Nothing of the write is stored.
    #[error("the write was rolled back with its batch")]
    RolledBack,
    /// The writer thread is gone (shutdown or a bug).
    #[error("the database writer has stopped")]
    WriterGone,
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database file itself, outside SQLite (the checkpointer syncs it).
    #[error("database file: {0}")]
    Io(std::io::Error),
}

impl StoreError {
    /// True when the disk or database is full: answered 503, not 500.
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DiskFull)
    }

    /// True when another process holds the database longer than the busy timeout: a
    /// passing condition, answered 503, not 500.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

/// Result alias for the store layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database: a pool of readers and one writer thread.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    writer: Writer,
    path: PathBuf,
    reads: Arc<ReadCounters>,
}

/// Reads that had to wait for a pooled connection, inline reads moved to the pool, and the
/// workers' snapshots (see `inline`), for metrics.
#[derive(Debug, Default)]
struct ReadCounters {
    waits: AtomicU64,
    wait_micros: AtomicU64,
    moved: AtomicU64,
    snapshots: AtomicU64,
    snapshots_held: AtomicU64,
}

/// A snapshot of the reader pool, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Reads that found no idle connection and waited.
    pub waits: u64,
    /// Seconds spent waiting, all told.
    pub wait_seconds: f64,
    /// Open connections.
    pub connections: u32,
    /// Idle connections.
    pub idle: u32,
    /// Reads begun inline that ran past their budget and ran again on the pool.
    pub moved: u64,
    /// Snapshots the workers' inline reads have taken (each serves the reads that follow
    /// it until something commits).
    pub snapshots: u64,
    /// Snapshots held now, at most one per worker.
    pub snapshots_held: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache of every connection but the writer's, in KiB. SQLite's default (2 MiB) times
/// the pool, the workers' own readers and the checkpointer let RSS creep up as the file
/// grows; the OS page cache holds the file anyway, so a miss costs a `pread`, not a seek.
const READER_CACHE_KIB: u32 = 1024;
/// The writer's page cache, in KiB: it walks the same index pages batch after batch.
const WRITER_CACHE_KIB: u32 = 4096;

/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

fn apply_pragmas(conn: &Connection, synchronous: &str) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A list page's statement is one per resource, filter shape and page size (a bound LIMIT
    // is planned again at every run): rusqlite's default of 16 kept statements would let a
    // client that varies its page size push the point reads out.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; \
         PRAGMA cache_size = -{READER_CACHE_KIB};"
    ))
}

/// Opens a single connection with the house pragmas, creating the file if needed.
/// `synchronous=FULL`: whoever writes through it (the CLI, the writer) gets durable commits.
/// A file SQLite cannot open (or cannot put in WAL mode) is explained: see `file_access`.
/// Another application's database is refused before anything is written to it.
pub fn open_connection(path: &Path) -> StoreResult<Connection> {
    let explain = |e| file_access::explain(path, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(explain)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(explain)?;
    // Before the pragmas: WAL mode is recorded in the file itself.
    if let Some(table) = migrate::foreign_table(&conn).map_err(explain)? {
        return Err(StoreError::NotSwitchboard { table });
    }
    apply_pragmas(&conn, "FULL").map_err(explain)?;
    Ok(conn)
}

impl Store {
    /// Opens the database: migrates on a dedicated connection first, then builds the
    /// reader pool and starts the writer thread.
    ///
    /// `max_pages`, when set, caps the database's size (in pages) for the writer, so that a
    /// full SD card is met with a clear refusal rather than a full disk.
    pub fn open(path: &Path, readers: u32, max_pages: Option<u64>) -> StoreResult<Store> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn)?;
        drop(conn);
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| apply_pragmas(c, "NORMAL"));
        let pool = r2d2::Pool::builder()
            .max_size(readers.max(1))
            // Opened as reads need them, not all at start: an idle server holds one.
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        let writer_conn = open_connection(path)?;
        // Another process's write (the CLI's) holds the write lock for a moment. With
        // SQLite's own backoff (1, 2, 5, 10, 15, 20, 25 ms ...) the writer would look again
        // up to 25 ms after it was free, with every request of its batch waiting.
        writer_conn.busy_handler(Some(retry_soon))?;
        // Checkpoints run on a background thread instead (see `checkpoint`): an automatic
        // checkpoint inside a commit would stall every write waiting behind it.
        // How much of the WAL file a restart keeps, the writer sets before each batch.
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        // Writes run in savepoints (see `writer`), whose journal (a copy of each page first
        // touched inside one) would otherwise go through a temporary file: in memory it is a
        // copy, not a system call, and it never outgrows one batch.
        writer_conn.execute_batch(&format!(
            "PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))?;
        if let Some(pages) = max_pages {
            writer_conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        }
        // Every statement of the server's writes runs here: keep them all prepared.
        writer_conn.set_prepared_statement_cache_capacity(128);
        webhooks::watch_subscriptions(&writer_conn)?;
        let writer = Writer::start(writer_conn)?;
        Ok(Store {
            pool,
            writer,
            path: path.to_owned(),
            reads: Arc::default(),
        })
    }

    /// Runs a read on a pooled connection, on the calling thread (blocking).
    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        // Only a read that finds no idle connection is timed: the common case stays free.
        let conn = if self.pool.state().idle_connections == 0 {
            let start = Instant::now();
            let conn = self.pool.get()?;
            self.reads.waits.fetch_add(1, Ordering::Relaxed);
            let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.reads.wait_micros.fetch_add(us, Ordering::Relaxed);
            conn
        } else {
            self.pool.get()?
        };
        f(&conn)
    }

    /// The reader pool's figures, for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            waits: self.reads.waits.load(Ordering::Relaxed),
            wait_seconds: self.reads.wait_micros.load(Ordering::Relaxed) as f64 / 1e6,
            moved: self.reads.moved.load(Ordering::Relaxed),
            snapshots: self.reads.snapshots.load(Ordering::Relaxed),
            snapshots_held: self.reads.snapshots_held.load(Ordering::Relaxed),
            connections: state.connections,
            idle: state.idle_connections,
        }
    }

    /// False once the writer thread has ended (shut down or died).
    pub fn writer_alive(&self) -> bool {
        self.writer.is_alive()
    }

    /// The writer thread: every write of the server goes through it.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Stops the writer after the writes already queued, and waits for it.
    pub fn shutdown(&self) {
        self.writer.shutdown();
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the WAL file (0 when there is none), for metrics.
    pub fn wal_file_bytes(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction on a connection of its own (the CLI's way
/// to write), and bumps the change generation so a running server drops its caches.
pub fn with_management_tx<R, E>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<StoreError>,
{
    with_write_tx(conn, |c| {
        let out = f(c)?;
        generation::bump(c)?;
        Ok(out)
    })
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction on a connection of its own, for a write that
/// changes nothing a server caches (making webhook deliveries from their events).
pub fn with_write_tx<R, E>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<StoreError>,
{
    conn.busy_handler(Some(retry_soon))
        .map_err(StoreError::from)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let out = f(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(out)
}

/// Busy handler of the writer and of management changes: look again every 2 ms,
/// for up to `BUSY_TIMEOUT`. SQLite's own handler sleeps longer and longer between looks (up
/// to 100 ms). A busy server's writer holds the write lock batch after batch with short gaps
/// between, which a revocation from the CLI would miss for a second; and the writer, waiting
/// on another process's write, would look again up to 25 ms after it let go.
pub(super) fn retry_soon(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_millis(2);
    if u128::try_from(attempt).unwrap_or(0) * STEP.as_millis() >= BUSY_TIMEOUT.as_millis() {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

macro_rules! sql_id {
    ($($t:ty),+) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0))
            }
        }
        impl FromSql for $t {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(v).map(Self)
            }
        }
    )+};
}
sql_id!(AccountId, UserId, TokenId, EndpointId);

/// Decodes a stored string enum, naming the bad value.
pub(crate) fn parse_stored<T: std::str::FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unexpected stored value `{s}`")))
}

/// Decodes a stored JSON array of strings.
pub(crate) fn parse_string_list(s: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad stored list: {e}")))
}

/// Encodes a list of strings for storage.
pub(crate) fn string_list<T: std::fmt::Display>(items: &[T]) -> String {
    let v: Vec<String> = items.iter().map(ToString::to_string).collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}
