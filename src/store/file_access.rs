//! Why a database file cannot be opened, told from the file system. SQLite says only
//! "unable to open database file" whether the directory is missing, is not writable (WAL mode
//! creates `-wal` and `-shm` files beside the database, so even an existing, writable file
//! needs a writable directory) or the path names a directory; the person who typed the path
//! needs to know which.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

use super::StoreError;

/// The error for a failed open of `path`: a reason found on the file system when SQLite's
/// own is "cannot open" or "read-only", else SQLite's.
pub(super) fn explain(path: &Path, e: rusqlite::Error) -> StoreError {
    let cannot_open = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    );
    match cannot_open.then(|| reason(path)).flatten() {
        // SQLite's own words once, after ours: should the guess be wrong, they are still there.
        Some(why) => StoreError::CannotOpen(format!("{why} (SQLite: {e})")),
        None => StoreError::Sqlite(e),
    }
}

/// The first thing found wrong with `path` and its directory, if any.
fn reason(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Some(format!(
                "the directory {} does not exist (create it first)",
                dir.display()
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotADirectory => {
            return Some(format!("{} is not a directory", dir.display()));
        }
        Err(e) => return Some(format!("cannot reach the directory {}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => return Some(format!("{} is not a directory", dir.display())),
        Ok(_) => {}
    }
    if path.is_dir() {
        return Some(format!("{} is a directory, not a file", path.display()));
    }
    if !can_create_in(dir) {
        return Some(format!(
            "the directory {} is not writable by this user (SQLite keeps the database's -wal \
             and -shm files beside it)",
            dir.display()
        ));
    }
    // The database and, as often after a `sudo switchboard ...`, its -wal and -shm files
    // left owned by another user. Opening an existing file for writing changes nothing in it.
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    files.iter().find_map(
        |f| match OpenOptions::new().read(true).write(true).open(f) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Some(format!(
                "the file {} is not readable and writable by this user (was it created by \
                 another user, e.g. with sudo?)",
                f.display()
            )),
            _ => None,
        },
    )
}

/// Whether a file can be created in `dir`: tried, since permission bits alone do not say
/// (ACLs, a read-only mount, root). Only ever called after an open failed; the probe has a
/// name of its own (process and instant), short whatever the database's name, and is removed
/// at once. Only a refusal of permission or a read-only file system says no: any other
/// failure is not this directory's to blame.
fn can_create_in(dir: &Path) -> bool {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let probe = dir.join(format!(".switchboard-probe-{}-{nanos}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            true
        }
        Err(e) => !matches!(
            e.kind(),
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason given for a failed open, without SQLite's own words after it (checked here
    /// to come once).
    fn opened(path: &Path) -> String {
        let why = super::super::open_connection(path)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(why.matches("(SQLite: ").count(), 1, "{why}");
        why.split(" (SQLite: ").next().unwrap().to_owned()
    }

    #[test]
    fn a_missing_or_odd_directory_is_named_as_the_reason_and_stated_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nodir");
        let why = opened(&missing.join("x.db"));
        assert_eq!(
            why,
            format!(
                "the directory {} does not exist (create it first)",
                missing.display()
            )
        );
        let file = dir.path().join("plain");
        fs::write(&file, "").unwrap();
        let why = opened(&file.join("x.db"));
        assert_eq!(why, format!("{} is not a directory", file.display()));
        let why = opened(dir.path());
        assert_eq!(
            why,
            format!("{} is a directory, not a file", dir.path().display())
        );
    }

    #[test]
    fn a_wal_file_another_user_left_is_named() {
        // Only a user without root's override can be refused; as root this asks nothing.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        super::super::open_connection(&db).unwrap();
        let wal = dir.path().join("x.db-wal");
        fs::write(&wal, "").unwrap();
        let mut ro = fs::metadata(&wal).unwrap().permissions();
        ro.set_readonly(true);
        fs::set_permissions(&wal, ro).unwrap();
        if OpenOptions::new().write(true).open(&wal).is_ok() {
            return; // root
        }
        assert_eq!(
            reason(&db),
            Some(format!(
                "the file {} is not readable and writable by this user (was it created by \
                 another user, e.g. with sudo?)",
                wal.display()
            ))
        );
    }

    #[test]
    fn a_sound_path_is_no_reason() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(reason(&dir.path().join("new.db")), None);
        assert!(can_create_in(dir.path()));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe is gone"
        );
    }
}
