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
        Some(why) => StoreError::CannotOpen(why),
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
    if !can_create_in(dir, path) {
        return Some(format!(
            "the directory {} is not writable by this user (SQLite keeps the database's -wal \
             and -shm files beside it)",
            dir.display()
        ));
    }
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Some(format!(
            "the file {} is not readable and writable by this user",
            path.display()
        )),
        _ => None,
    }
}

/// Whether a file can be created in `dir`: tried, since permission bits alone do not say
/// (ACLs, a read-only mount, root). Only ever called after an open failed.
fn can_create_in(dir: &Path, db: &Path) -> bool {
    let name = db.file_name().unwrap_or_default().to_string_lossy();
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            true
        }
        // Whoever left a file of that name could create one.
        Err(e) => e.kind() == ErrorKind::AlreadyExists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(path: &Path) -> String {
        super::super::open_connection(path)
            .map(|_| ())
            .unwrap_err()
            .to_string()
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
    fn a_sound_path_is_no_reason() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(reason(&dir.path().join("new.db")), None);
        assert!(can_create_in(dir.path(), &dir.path().join("new.db")));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe is gone"
        );
    }
}
