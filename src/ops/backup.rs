//! Backups and restores: consistent copies of a live database, a restore that refuses to run
//! under a server, and the scheduled backups of `serve --backup-dir`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;
use serde::Serialize;

use crate::store::{StoreError, ops as sql};

mod restore;
mod schedule;

pub use restore::{RestoreReport, restore};
pub use schedule::{Schedule, list_backups, run_schedule};

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
