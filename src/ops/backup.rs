//! Backups and restores: consistent copies of a live database, a restore that refuses to run
//! under a server, and the scheduled backups of `serve --backup-dir`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::Connection;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::metrics::Metrics;
use crate::background::Stop;
use crate::store::{self, Store, StoreError, ops as sql};

/// What can stop a backup or a restore.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The database layer failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A server holds the database.
    #[error(
        "a switchboard server is using {0}; stop it first (for example `systemctl stop switchboard`)"
    )]
    InUse(PathBuf),
    /// Refused for a reason a person can act on.
    #[error("{0}")]
    Refused(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> OpsError {
    let what = what.into();
    move |source| OpsError::Io { what, source }
}

/// An exclusive advisory lock on `<db>.lock`, held by `serve` for its whole life and by
/// `restore` while it swaps files. The kernel drops it when the process ends, however it
/// ends, so a crashed server never leaves a stale lock behind (as a pid file would).
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
    path: PathBuf,
}

impl ServerLock {
    /// Takes the lock for `db`, or says who holds it.
    pub fn acquire(db: &Path) -> Result<ServerLock, OpsError> {
        let path = lock_path(db);
        // Opened read-only when it exists: an flock needs no write access, and a lock file
        // left by root (a `restore` run with sudo) must not stop the service's own user.
        let file = File::open(&path)
            .or_else(|_| {
                fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .map_err(io(format!("cannot open the lock file {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: file, path }),
            Err(fs::TryLockError::WouldBlock) => Err(OpsError::InUse(db.to_owned())),
            Err(fs::TryLockError::Error(e)) => {
                Err(io(format!("cannot lock {}", path.display()))(e))
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What a backup wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The copy.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The schema version it carries.
    pub schema_version: i64,
    /// How long it took.
    pub took_ms: u64,
}

/// Copies the database behind `conn` to `to` (which must not exist) consistently, even while
/// a server writes to it. The copy is written beside its destination, checked, synced and
/// then renamed into place, so `to` is either absent or a whole, sound database.
pub fn backup_with(conn: &Connection, to: &Path) -> Result<BackupReport, OpsError> {
    let start = Instant::now();
    if to.exists() {
        return Err(OpsError::Refused(format!(
            "{} already exists; choose a new name or remove it first",
            to.display()
        )));
    }
    let partial = sibling(to, &format!(".partial-{}", std::process::id()));
    let _ = fs::remove_file(&partial);
    let result = (|| {
        sql::vacuum_into(conn, &partial)?;
        let schema_version = finish_copy(&partial)?;
        fs::rename(&partial, to)
            .map_err(io(format!("cannot move the copy to {}", to.display())))?;
        sync_dir(to);
        let bytes = fs::metadata(to).map(|m| m.len()).unwrap_or(0);
        Ok(BackupReport {
            path: to.to_owned(),
            bytes,
            schema_version,
            took_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

/// Makes the fresh copy a self-contained file (rollback journal, so it opens read-only
/// anywhere), checks it, and syncs it to disk. Returns its schema version.
fn finish_copy(path: &Path) -> Result<i64, OpsError> {
    let conn = sql::open_existing(path)?;
    sql::use_rollback_journal(&conn)?;
    if let Err(findings) = sql::integrity_check(&conn)? {
        return Err(OpsError::Refused(format!(
            "the copy failed its integrity check: {}",
            findings.join("; ")
        )));
    }
    let version = sql::schema_version(&conn)?.unwrap_or(0);
    drop(conn);
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot sync the copy"))?;
    Ok(version)
}

/// Migrates the checked copy of `from` in place (still one self-contained file: the copy
/// keeps its rollback journal), and syncs it.
fn migrate_copy(path: &Path, from: &Path) -> Result<(), OpsError> {
    let mut conn = sql::open_existing(path)?;
    store::migrate(&mut conn).map_err(|e| match e {
        StoreError::Migration(why) => OpsError::Refused(format!(
            "{} cannot be brought up to this binary's schema ({why}); nothing was changed",
            from.display()
        )),
        e => OpsError::Store(e),
    })?;
    drop(conn);
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot sync the migrated copy"))
}

/// Best effort: a rename is durable only once its directory is synced.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// `switchboard backup`: opens the existing database (never creating one) and copies it.
pub fn backup_file(db: &Path, to: &Path) -> Result<BackupReport, OpsError> {
    if !db.exists() {
        return Err(OpsError::Refused(format!(
            "there is no database at {}",
            db.display()
        )));
    }
    let conn = sql::open_existing(db)?;
    // Another application's file (or a file nothing ever migrated): `restore` would refuse
    // the copy, so it is no backup.
    if sql::schema_version(&conn)?.is_none() {
        return Err(OpsError::Refused(format!(
            "{} is not a Switchboard database (it has no migration history); nothing to back up",
            db.display()
        )));
    }
    backup_with(&conn, to)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The database now in place.
    pub db: PathBuf,
    /// The backup it came from.
    pub restored_from: PathBuf,
    /// The backup's schema version (the restored database is migrated to the current one).
    pub backup_schema_version: i64,
    /// Where the database that was replaced was kept, if there was one.
    pub previous_saved_as: Option<PathBuf>,
}

/// Checks `from` and puts it in place of `db`, keeping the replaced file beside it. Refuses
/// while a server holds the database.
pub fn restore(db: &Path, from: &Path) -> Result<RestoreReport, OpsError> {
    let backup_version = check_backup(from)?;
    let _lock = ServerLock::acquire(db)?;
    let incoming = sibling(db, ".restoring");
    let _ = fs::remove_file(&incoming);
    // Brought up to date before it replaces anything: a backup this binary cannot migrate (a
    // migration that fails on its contents, a history another build wrote) leaves the
    // database in place as it was, rather than replaced by one the server would refuse to
    // open. So the copy is migrated once, here, and not again once it is in place.
    let prepared = (|| {
        let source = sql::open_existing(from)?;
        sql::vacuum_into(&source, &incoming).map_err(|e| OpsError::Io {
            what: format!("cannot copy {} beside {}", from.display(), db.display()),
            source: std::io::Error::other(e.to_string()),
        })?;
        drop(source);
        finish_copy(&incoming)?;
        migrate_copy(&incoming, from)
    })();
    if let Err(e) = prepared {
        let _ = fs::remove_file(&incoming);
        return Err(e);
    }
    let previous = if db.exists() {
        // Fold the WAL into the file first: a WAL left beside the new file would be replayed
        // into it.
        let old = store::open_connection(db)?;
        sql::checkpoint_truncate(&old)?;
        drop(old);
        // Run as root against a service's database, the new file must still belong to the
        // service's user, or the service could not open it.
        if let Ok(meta) = fs::metadata(db) {
            use std::os::unix::fs::MetadataExt;
            let _ = std::os::unix::fs::chown(&incoming, Some(meta.uid()), Some(meta.gid()));
        }
        let stamp = OffsetDateTime::now_utc().unix_timestamp();
        let kept = sibling(db, &format!(".pre-restore-{stamp}"));
        fs::rename(db, &kept).map_err(io(format!("cannot move {} aside", db.display())))?;
        Some(kept)
    } else {
        None
    };
    for stale in ["-wal", "-shm"] {
        let _ = fs::remove_file(sibling(db, stale));
    }
    fs::rename(&incoming, db).map_err(io(format!("cannot put the backup at {}", db.display())))?;
    sync_dir(db);
    Ok(RestoreReport {
        db: db.to_owned(),
        restored_from: from.to_owned(),
        backup_schema_version: backup_version,
        previous_saved_as: previous,
    })
}

/// A backup is restored only if it is sound, is a Switchboard database, and is not newer
/// than this binary.
fn check_backup(from: &Path) -> Result<i64, OpsError> {
    if !from.is_file() {
        return Err(OpsError::Refused(format!(
            "there is no backup file at {}",
            from.display()
        )));
    }
    let conn = sql::open_read_only(from)?;
    let not_db = |e: StoreError| {
        OpsError::Refused(format!(
            "{} is not a readable SQLite database ({e})",
            from.display()
        ))
    };
    if let Err(findings) = sql::integrity_check(&conn).map_err(not_db)? {
        return Err(OpsError::Refused(format!(
            "{} failed its integrity check: {}",
            from.display(),
            findings.join("; ")
        )));
    }
    let version = sql::schema_version(&conn).map_err(not_db)?.ok_or_else(|| {
        OpsError::Refused(format!(
            "{} is not a Switchboard database (no migration history)",
            from.display()
        ))
    })?;
    if version > *store::SCHEMA_VERSION {
        return Err(OpsError::Store(StoreError::TooNew {
            found: version,
            known: *store::SCHEMA_VERSION,
        }));
    }
    Ok(version)
}

/// Settings of the scheduled backups.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Where the copies go.
    pub dir: PathBuf,
    /// How often.
    pub every: Duration,
    /// How many copies to keep (the oldest go first).
    pub keep: usize,
}

const FILE_PREFIX: &str = "switchboard-";
const FILE_SUFFIX: &str = ".db";

/// The longest the scheduler sleeps before it reads the wall clock again: a backup falls due
/// by the wall clock, which may be set meanwhile (a Raspberry Pi without a clock battery
/// boots at its last shutdown's time, and NTP moves it on).
const WALL_CLOCK_RECHECK: Duration = Duration::from_secs(60);

/// The `backup-scheduler` thread's body: a copy whenever the newest one in the directory is
/// `every` old (so a restart never postpones a due backup), then pruning to `keep`.
pub fn run_schedule(store: &Store, schedule: &Schedule, metrics: &Metrics, stop: &Stop) {
    // A newest copy stamped in the future (the clock was set back) waits no longer than
    // `every` from now.
    let latest = SystemTime::now() + schedule.every;
    let mut next = newest_backup(&schedule.dir)
        .map_or(SystemTime::now(), |t| t + schedule.every)
        .min(latest);
    stop.repeat(|| {
        if SystemTime::now() >= next {
            let outcome = scheduled_backup(store, schedule);
            let now = OffsetDateTime::now_utc().unix_timestamp();
            match outcome {
                Ok(r) => {
                    tracing::info!(path = %r.path.display(), bytes = r.bytes, took_ms = r.took_ms, "scheduled backup written");
                    metrics.backup_done(true, u64::try_from(now).unwrap_or(0));
                }
                Err(e) => {
                    tracing::error!(error = %e, dir = %schedule.dir.display(), "scheduled backup failed");
                    metrics.backup_done(false, 0);
                }
            }
            next = SystemTime::now() + schedule.every;
        }
        let due_in = next.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        due_in.min(WALL_CLOCK_RECHECK)
    });
}

fn scheduled_backup(store: &Store, schedule: &Schedule) -> Result<BackupReport, OpsError> {
    fs::create_dir_all(&schedule.dir).map_err(io(format!(
        "cannot create the backup directory {}",
        schedule.dir.display()
    )))?;
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "unknown".into());
    let mut to = schedule
        .dir
        .join(format!("{FILE_PREFIX}{stamp}{FILE_SUFFIX}"));
    let mut n = 1;
    while to.exists() {
        to = schedule
            .dir
            .join(format!("{FILE_PREFIX}{stamp}-{n}{FILE_SUFFIX}"));
        n += 1;
    }
    let report = store.read(|c| {
        backup_with(c, &to).map_err(|e| match e {
            OpsError::Store(s) => s,
            other => StoreError::Corrupt(other.to_string()),
        })
    })?;
    prune(&schedule.dir, schedule.keep);
    Ok(report)
}

/// Our backup files in `dir`, oldest first (their names sort by time).
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    files
}

fn newest_backup(dir: &Path) -> Option<SystemTime> {
    list_backups(dir)
        .last()
        .and_then(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn prune(dir: &Path, keep: usize) {
    let files = list_backups(dir);
    let excess = files.len().saturating_sub(keep.max(1));
    for old in &files[..excess] {
        match fs::remove_file(old) {
            Ok(()) => tracing::info!(path = %old.display(), "old backup removed"),
            Err(e) => {
                tracing::warn!(path = %old.display(), error = %e, "cannot remove an old backup")
            }
        }
    }
}
