//! The change generation: a counter every management change bumps, so that a running server
//! notices changes made by another process (the CLI) without a per-request query.

use rusqlite::Connection;

use super::StoreResult;

/// Bumps the counter; call inside the transaction that makes the change.
pub fn bump(conn: &Connection) -> StoreResult<()> {
    conn.execute(
        "UPDATE change_generation SET value = value + 1 WHERE id = 1",
        [],
    )?;
    Ok(())
}

/// The current value.
pub fn current(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT value FROM change_generation WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}
