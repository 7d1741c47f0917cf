//! Pruning the audit log after its retention period, and the ranges left with no row.

use rusqlite::{Connection, OptionalExtension, params};

use super::BLOCK_BITS;
use crate::store::StoreResult;

/// Where the run of entries older than `cutoff` (ms) ends: the id of the first entry stamped
/// between the cutoff and `now`, `i64::MAX` when none is. Entries are inserted in id order,
/// stamped with their call's time, so the old ones are the ids below it (the log has no
/// index of times, see migration V13). A call answered late may sit just after one stamped
/// later: it goes with the next run. One stamped in the future (a clock set ahead, then
/// back) does not end the run.
///
/// The walk to that entry starts at the first range (of any account) that may hold it:
/// within a block of it, not at the oldest entry left.
pub fn old_run_end(conn: &Connection, cutoff: i64, now: i64) -> StoreResult<i64> {
    let end: Option<i64> = conn
        .prepare_cached(OLD_RUN_END)?
        .query_row([cutoff, now], |r| r.get(0))
        .optional()?;
    Ok(end.unwrap_or(i64::MAX))
}

pub(super) const OLD_RUN_END: &str = "SELECT id FROM audit_log \
     WHERE id >= (SELECT min(first_id) FROM audit_account_ranges \
                  WHERE last_at >= ?1 AND first_at <= ?2) \
       AND at >= ?1 AND at <= ?2 \
     ORDER BY id LIMIT 1";

/// At most `?3` entries older than `?1`, smallest ids first, among the ids below `?2`.
pub(super) const PRUNE: &str = "DELETE FROM audit_log WHERE id IN \
       (SELECT id FROM audit_log WHERE id < ?2 AND at < ?1 ORDER BY id LIMIT ?3)";

/// Deletes at most `at_most` of the entries older than `cutoff` (ms) below `run_end` (see
/// `old_run_end`), oldest first, and the ranges left with no row; returns how many entries.
/// The run's end holds while the log grows: it is found once, then pruned up to in writes
/// of a bounded size.
///
/// A range goes once every id it covers is below the oldest entry left. Entries that wait
/// for a later run hold theirs (reading them finds nothing).
pub fn prune(conn: &Connection, cutoff: i64, run_end: i64, at_most: usize) -> StoreResult<usize> {
    let n = conn
        .prepare_cached(PRUNE)?
        .execute(params![cutoff, run_end, at_most as i64])?;
    let oldest: Option<i64> = conn.query_row("SELECT min(id) FROM audit_log", [], |r| r.get(0))?;
    for table in ["audit_token_ranges", "audit_account_ranges"] {
        match oldest {
            Some(id) => conn.execute(
                &format!("DELETE FROM {table} WHERE block <= ?1 AND last_id < ?2"),
                params![id >> BLOCK_BITS, id],
            )?,
            None => conn.execute(&format!("DELETE FROM {table}"), [])?,
        };
    }
    Ok(n)
}
