//! Embedded migrations, applied on a dedicated connection before anything else opens the file.

use rusqlite::{Connection, OptionalExtension};

use super::{StoreError, StoreResult};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The highest schema version this binary embeds.
pub static SCHEMA_VERSION: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
});

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
        embedded::migrations::runner()
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
    without_foreign_keys(conn, |conn| {
        embedded::migrations::runner().set_grouped(true).run(conn)
    })
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
