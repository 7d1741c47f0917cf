//! Embedded migrations, applied on a dedicated connection before anything else opens the file.

use std::hash::{Hash, Hasher};

use refinery::{Migration, Runner};
use rusqlite::{Connection, OptionalExtension};
use siphasher::sip::SipHasher13;

use super::{StoreError, StoreResult};

/// A file of `migrations/`, embedded by `build.rs`.
struct Embedded {
    /// `V3__audit.sql` is 3.
    version: i32,
    /// `audit`.
    name: &'static str,
    /// `V3__audit`: the name refinery parses.
    file: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first.
static EMBEDDED: &[Embedded] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The highest schema version this binary embeds.
pub static SCHEMA_VERSION: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    EMBEDDED
        .iter()
        .map(|m| i64::from(m.version))
        .max()
        .unwrap_or(0)
});

/// refinery's runner over the embedded migrations. Building it compiles the regex refinery
/// parses migration names with, which then stays in memory for good (640 KB of heap, see
/// `history_is_current`).
fn runner() -> Runner {
    let migrations: Vec<Migration> = EMBEDDED
        .iter()
        .map(|m| Migration::unapplied(m.file, m.sql).expect("build.rs checked the name"))
        .collect();
    Runner::new(&migrations)
}

/// A migration applied to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its version (`V3__audit.sql` is 3).
    pub version: i64,
    /// Its name (`audit`).
    pub name: String,
}

/// Applies the migrations up to `version` only: for tests that need a database as an older
/// release left it.
#[doc(hidden)]
pub fn migrate_to(conn: &mut Connection, version: i32) -> StoreResult<()> {
    without_foreign_keys(conn, |conn| {
        runner()
            .set_grouped(true)
            .set_target(refinery::Target::Version(version))
            .run(conn)
    })
    .map(drop)
}

/// Brings the schema up to date; the migrations this run applied, oldest first (none when
/// the file was up to date). A file written by a newer binary is refused untouched.
pub fn migrate(conn: &mut Connection) -> StoreResult<Vec<Applied>> {
    // A fresh file has no history yet.
    let applied = super::ops::schema_version(conn)?;
    if let Some(found) = applied
        && found > *SCHEMA_VERSION
    {
        return Err(StoreError::TooNew {
            found,
            known: *SCHEMA_VERSION,
        });
    }
    if let Some(table) = foreign_table(conn)? {
        return Err(StoreError::NotSwitchboard { table });
    }
    if applied == Some(*SCHEMA_VERSION) && history_is_current(conn)? {
        return Ok(Vec::new());
    }
    without_foreign_keys(conn, |conn| runner().set_grouped(true).run(conn))
}

/// True when the file's history lists exactly the embedded migrations, each with refinery's
/// checksum of it: the file is up to date, and the runner would apply nothing and find
/// nothing to refuse. Every start of the server but the first after an upgrade comes here,
/// so it skips building the runner, whose regex kept 640 KB of heap (the idle RSS's budget is
/// 15 MB) and took ~1 ms of the start (BENCHMARKS.md). Anything else (a newer migration, an edited or
/// missing one) goes to the runner, which applies or refuses as before.
fn history_is_current(conn: &Connection) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare("SELECT version, name, checksum FROM refinery_schema_history ORDER BY version")?;
    let history: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(history.len() == EMBEDDED.len()
        && history
            .iter()
            .zip(EMBEDDED)
            .all(|((version, name, sum), m)| {
                *version == i64::from(m.version)
                    && name == m.name
                    && *sum == checksum(m).to_string()
            }))
}

/// refinery's checksum of a migration (`Migration::unapplied`): SipHash 1-3 with zero keys over
/// its name, version and SQL, as `Hash` feeds them. A test pins it to refinery's own.
fn checksum(m: &Embedded) -> u64 {
    let mut hasher = SipHasher13::new();
    m.name.hash(&mut hasher);
    m.version.hash(&mut hasher);
    m.sql.hash(&mut hasher);
    hasher.finish()
}

/// A table (or view, index, trigger) of the file's when it has no migration history: another
/// application's file, which the migrations would fill with our tables. A new, empty file has
/// no tables; every Switchboard file, at any schema version, has the history.
pub(super) fn foreign_table(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT name FROM sqlite_schema
          WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
            AND NOT EXISTS (SELECT 1 FROM sqlite_schema
                             WHERE type = 'table' AND name = 'refinery_schema_history')
          ORDER BY type = 'table' DESC, name LIMIT 1",
        [],
        |r| r.get(0),
    )
    .optional()
}

/// Runs the migrations with foreign keys off, as SQLite's procedure for rebuilding a table
/// requires: with them on, dropping a parent table deletes its children's rows through
/// their ON DELETE CASCADE (see V8). The setting is a no-op inside a transaction, so it is
/// made here, around the runner's own transaction, and put back as it was whatever happens.
fn without_foreign_keys(
    conn: &mut Connection,
    run: impl FnOnce(&mut Connection) -> Result<refinery::Report, refinery::Error>,
) -> StoreResult<Vec<Applied>> {
    let was_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let ran = run(conn).map_err(|e| StoreError::Migration(e.to_string()));
    let restored = conn.pragma_update(None, "foreign_keys", was_on);
    let report = ran?;
    restored?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| Applied {
            version: i64::from(m.version()),
            name: m.name().to_owned(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `build.rs` embeds is what refinery makes of the same files, checksums included:
    /// an up-to-date file's history is checked against these without refinery.
    #[test]
    fn the_embedded_migrations_are_refinerys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let files = std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("sql".as_ref()))
            .count();
        assert_eq!(EMBEDDED.len(), files);
        assert!(EMBEDDED.windows(2).all(|w| w[0].version < w[1].version));
        for m in EMBEDDED {
            let parsed = Migration::unapplied(m.file, m.sql).unwrap();
            assert_eq!(parsed.version(), m.version, "{}", m.file);
            assert_eq!(parsed.name(), m.name, "{}", m.file);
            assert_eq!(parsed.checksum(), checksum(m), "{}", m.file);
        }
        assert_eq!(*SCHEMA_VERSION, i64::from(EMBEDDED.last().unwrap().version));
    }

    #[test]
    fn an_up_to_date_file_is_recognised_and_an_edited_history_goes_to_the_runner() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(history_is_current(&conn).is_err(), "no history table yet");
        assert_eq!(migrate(&mut conn).unwrap().len(), EMBEDDED.len());
        assert!(history_is_current(&conn).unwrap());
        assert_eq!(migrate(&mut conn).unwrap(), Vec::new());

        // A migration edited after it was applied: refinery refuses the file, as before.
        conn.execute(
            "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 3",
            [],
        )
        .unwrap();
        assert!(!history_is_current(&conn).unwrap());
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("V3__audit is different"), "{err}");

        // A renamed one too.
        let sum = checksum(&EMBEDDED[2]).to_string();
        conn.execute(
            "UPDATE refinery_schema_history SET checksum = ?1, name = 'other' WHERE version = 3",
            [sum],
        )
        .unwrap();
        assert!(!history_is_current(&conn).unwrap());
        assert!(migrate(&mut conn).is_err());
    }
}
