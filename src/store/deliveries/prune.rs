//! Pruning finished deliveries and their events after the retention period, a window of
//! rows per write.

use rusqlite::{Connection, params};

use crate::store::StoreResult;

/// The next window of a prune of `$table`: of the (at most `?4`) rows from id `?3` on, the
/// first one created between the cutoff (`?1`) and now (`?2`), the last one, and how many.
/// Rows are inserted in id order, stamped with the time of their insert (migration V12; a
/// delivery with its event's, and deliveries are made in event order: `fanout`), so
/// the rows created before the cutoff are the ids below the first one created after it, and
/// no index of ages is kept for the prune. Rows that a clock set back stamped earlier than a
/// row before them wait for a later prune. A row stamped in the future (a clock set too far
/// ahead, then corrected) does not end the run: it would hold back every row after it.
macro_rules! window {
    ($table:literal) => {
        concat!(
            "WITH w AS (SELECT id, created_at FROM ",
            $table,
            " WHERE id >= ?3 ORDER BY id LIMIT ?4) \
             SELECT (SELECT min(id) FROM w WHERE created_at >= ?1 AND created_at <= ?2), \
                    (SELECT max(id) FROM w), (SELECT count(*) FROM w)"
        )
    };
}

// By path, for the tests that check the statements' plans.
#[cfg(test)]
pub(super) use window;

/// Finished (delivered, dead) and long-parked deliveries last changed before `?1` with ids
/// from `?2` to `?3`: all of them were created before the cutoff too. `+status`: no index of
/// statuses is worth reading for rows the walk visits anyway.
pub(super) const PRUNE_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id >= ?2 AND id <= ?3 \
     AND +status IN ('delivered', 'dead', 'paused') AND updated_at < ?1";

/// Events created before `?1` with ids from `?2` to `?3` that no delivery is left of, and
/// whose deliveries were made (`fanout`): an event still to do has none yet.
pub(super) const PRUNE_EVENTS: &str = "DELETE FROM webhook_events WHERE id >= ?2 AND id <= ?3 \
     AND created_at < ?1 AND id <= (SELECT upto FROM webhook_fanout WHERE id = 1) \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)";

/// What one write of a prune did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneStep {
    /// Rows deleted.
    pub deleted: usize,
    /// Where the next write starts; `None` when the run of old rows is done.
    pub next: Option<i64>,
}

/// One write of a prune of the finished (delivered, dead) and long-parked deliveries last
/// changed before `before`: within the next `size` rows from id `from`, up to the first row
/// created between `before` and `now`. Their attempts go with them. A prune runs these from
/// the smallest id until one says it is done: each write walks at most `size` rows, and a
/// pass walks each row once, whatever it keeps.
pub fn prune_deliveries(
    conn: &Connection,
    before: i64,
    now: i64,
    from: i64,
    size: usize,
) -> StoreResult<PruneStep> {
    prune_window(
        conn,
        window!("webhook_deliveries"),
        PRUNE_DELIVERIES,
        before,
        now,
        from,
        size,
    )
}

/// Like `prune_deliveries`, for the events created before `before` that no delivery is left
/// of. Run after the deliveries: an event waits for all of its own to go.
pub fn prune_events(
    conn: &Connection,
    before: i64,
    now: i64,
    from: i64,
    size: usize,
) -> StoreResult<PruneStep> {
    prune_window(
        conn,
        window!("webhook_events"),
        PRUNE_EVENTS,
        before,
        now,
        from,
        size,
    )
}

/// Reads the next window with `window` (see `window!`), then runs `delete` up to its end.
fn prune_window(
    conn: &Connection,
    window: &str,
    delete: &str,
    before: i64,
    now: i64,
    from: i64,
    size: usize,
) -> StoreResult<PruneStep> {
    let (first_new, last, rows): (Option<i64>, Option<i64>, i64) = conn
        .prepare_cached(window)?
        .query_row(params![before, now, from, size as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let Some(last) = last else {
        return Ok(PruneStep {
            deleted: 0,
            next: None,
        });
    };
    let (upto, done) = match first_new {
        Some(id) => (id - 1, true),
        None => (last, rows < size as i64),
    };
    let deleted = conn
        .prepare_cached(delete)?
        .execute(params![before, from, upto])?;
    Ok(PruneStep {
        deleted,
        next: if done { None } else { last.checked_add(1) },
    })
}
