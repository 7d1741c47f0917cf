//! `switchboard restore`: a backup checked, brought up to this binary's schema beside the
//! database, then put in its place, under the server lock.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::{OpsError, ServerLock, finish_copy, io, sibling, sync_dir};
use crate::store::{self, StoreError, ops as sql};

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
