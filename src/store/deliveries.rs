//! Webhook deliveries: listing and re-queueing them for people, claiming them with a lease and
//! recording each attempt for the worker, and pruning them after the retention period.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;
use crate::model::{AccountId, EndpointId};

/// Every status a delivery can have.
pub const STATUSES: [&str; 5] = ["pending", "delivered", "failed", "dead", "paused"];

/// The condition of the claim index `webhook_deliveries_unsent` (V10). A statement meant to
/// use the index carries it word for word (the claim, next-due, pause, resume and the outbox
/// count; tests check their plans): SQLite uses a partial index only for a query whose WHERE
/// clause visibly implies the index's.
pub const UNSENT: &str = "status <> 'delivered'";

/// A delivery as stored, with its event's type and message id.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The endpoint it goes to.
    pub endpoint_id: EndpointId,
    /// The endpoint's account.
    pub account_id: AccountId,
    /// Event type (`lead.created`, ...).
    pub event_type: String,
    /// The `webhook-id`, the same for every attempt.
    pub msg_id: String,
    /// `pending`, `delivered`, `failed` (a retry is scheduled), `dead` or `paused`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (ms).
    pub next_attempt_at: i64,
    /// Claimed by a sender until then (ms).
    pub lease_until: Option<i64>,
    /// HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The first KiB of the last answer.
    pub last_response: Option<String>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// When its state last changed (ms): queued, attempted, re-queued or parked; taking a
    /// lease to send it does not count.
    pub updated_at: i64,
    /// The endpoint's account's name, for lists of several accounts.
    pub account_name: String,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, e.account_id, ev.type, ev.msg_id, d.status, \
     d.attempts, d.next_attempt_at, d.lease_until, d.last_status, d.last_error, d.last_response, \
     d.last_latency_ms, d.created_at, d.updated_at, a.name \
     FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN accounts a ON a.id = e.account_id";

fn delivery_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        endpoint_id: r.get(1)?,
        account_id: r.get(2)?,
        event_type: r.get(3)?,
        msg_id: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        lease_until: r.get(8)?,
        last_status: r.get(9)?,
        last_error: r.get(10)?,
        last_response: r.get(11)?,
        last_latency_ms: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        account_name: r.get(15)?,
    })
}

/// Deliveries, newest first, filtered by account, endpoint and status. Newest by their event:
/// during a burst the deliveries of its events are made after it (`fanout`), and a test
/// delivery, made at once, would otherwise list below them. The index of events serves the
/// order as the table's ids did.
pub fn list(
    conn: &Connection,
    account: Option<AccountId>,
    endpoint: Option<EndpointId>,
    status: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DELIVERY_SELECT} WHERE (?1 IS NULL OR e.account_id = ?1) AND (?2 IS NULL OR d.endpoint_id = ?2) \
         AND (?3 IS NULL OR d.status = ?3) ORDER BY d.event_id DESC, d.id DESC LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(params![account, endpoint, status, limit], delivery_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One delivery.
pub fn find(conn: &Connection, id: i64) -> StoreResult<Option<Delivery>> {
    Ok(conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE d.id = ?1"),
            [id],
            delivery_from_row,
        )
        .optional()?)
}

/// Queues a delivery again now, whatever its state, with a fresh retry schedule: `pending`,
/// or `paused` while its endpoint is disabled.
pub fn requeue(conn: &Connection, id: i64, now: i64) -> StoreResult<bool> {
    super::writer::note_events_queued();
    let n = conn.execute(
        "UPDATE webhook_deliveries SET \
           status = CASE WHEN (SELECT enabled FROM webhook_endpoints e WHERE e.id = endpoint_id) \
                         THEN 'pending' ELSE 'paused' END, \
           next_attempt_at = ?2, lease_until = NULL, attempt_base = attempts, updated_at = ?2 \
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(n == 1)
}

const PAUSE: &str = "UPDATE webhook_deliveries SET status = 'paused', updated_at = ?2 \
     WHERE endpoint_id = ?1 AND status IN ('pending', 'failed') AND status <> 'delivered'";

const RESUME: &str = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?2, \
       attempt_base = attempts, lease_until = NULL, updated_at = ?2 \
     WHERE endpoint_id = ?1 AND status = 'paused' AND status <> 'delivered'";

/// Parks an endpoint's waiting deliveries while it is disabled.
pub fn pause_endpoint(conn: &Connection, endpoint: EndpointId, now: i64) -> StoreResult<usize> {
    Ok(conn.execute(PAUSE, params![endpoint, now])?)
}

/// Sends an endpoint's parked deliveries now, with a fresh retry schedule.
pub fn resume_endpoint(conn: &Connection, endpoint: EndpointId, now: i64) -> StoreResult<usize> {
    super::writer::note_events_queued();
    Ok(conn.execute(RESUME, params![endpoint, now])?)
}

/// A delivery claimed for sending, with everything the sender needs.
#[derive(Clone)]
pub struct Claimed {
    /// Delivery id.
    pub id: i64,
    /// The event it delivers.
    pub event_id: i64,
    /// Endpoint id.
    pub endpoint_id: EndpointId,
    /// Attempts since the retry schedule last started.
    pub attempts_in_schedule: i64,
    /// The `webhook-id`.
    pub msg_id: String,
    /// The exact body.
    pub payload: String,
    /// Where to send it.
    pub url: String,
    /// Current signing secret.
    pub secret: String,
    /// The secret before the last rotation, while its overlap lasts.
    pub previous_secret: Option<String>,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("msg_id", &self.msg_id)
            .finish_non_exhaustive()
    }
}

/// The sending side's say in a claim: how many of an endpoint's due deliveries it may take,
/// and whether one more may go. The rules (how many attempts at once, to which endpoints) are
/// the senders' (`webhooks::allocation`); the store only asks.
pub trait Admission {
    /// At most how many of `endpoint`'s due deliveries the claim may take (0: none).
    /// `failing`: every attempt at it has failed since some time (its `failing_since`).
    /// Asked once per enabled endpoint, before any `admit`.
    fn room(&mut self, endpoint: EndpointId, failing: bool) -> usize;
    /// Whether to take one more due delivery of `endpoint`, within its room; asked in the
    /// order the deliveries fell due, and the delivery is taken when true.
    fn admit(&mut self, endpoint: EndpointId) -> bool;
}

/// Claims up to `limit` due deliveries of enabled endpoints for sending until `lease_until`,
/// as many of each endpoint's as `admission` allows. The flag is true when a limit may have
/// left due deliveries unclaimed: the next claim is worth making as soon as a sender is free.
pub fn claim(
    conn: &Connection,
    now: i64,
    lease_until: i64,
    limit: usize,
    admission: &mut impl Admission,
) -> StoreResult<(Vec<Claimed>, bool)> {
    // The oldest few due deliveries of each enabled endpoint, so a long backlog at one
    // endpoint never hides another endpoint's deliveries. One index range scan per endpoint
    // and status (see V6 and V10): the cost does not grow with the backlog.
    let endpoints: Vec<(EndpointId, bool)> = conn
        .prepare_cached(
            "SELECT id, failing_since IS NOT NULL FROM webhook_endpoints WHERE enabled = 1",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut rows: Vec<(i64, Claimed)> = Vec::new();
    let mut rooms: std::collections::HashMap<EndpointId, usize> = Default::default();
    let mut capped = false;
    for (endpoint, failing) in endpoints {
        let room = admission.room(endpoint, failing);
        if room == 0 {
            // Whether anything of it is due is not looked up: the worker then claims again at
            // a sender's poke or its next tick, which costs less than looking.
            capped = true;
            continue;
        }
        rooms.insert(endpoint, room);
        // The LIMIT is a literal (one statement per size): SQLite plans with a bound LIMIT's
        // value and so would prepare the statement again at every claim.
        let mut stmt = conn.prepare_cached(&claim_sql(room))?;
        for status in ["pending", "failed"] {
            let before = rows.len();
            let found = stmt.query_map(params![endpoint, status, now], |r| {
                Ok((
                    r.get::<_, i64>(8)?,
                    Claimed {
                        id: r.get(0)?,
                        event_id: r.get(9)?,
                        endpoint_id: r.get(1)?,
                        attempts_in_schedule: r.get(2)?,
                        msg_id: r.get(3)?,
                        payload: r.get(4)?,
                        url: r.get(5)?,
                        secret: r.get(6)?,
                        previous_secret: r.get(7)?,
                    },
                ))
            })?;
            for row in found {
                rows.push(row?);
            }
            capped |= rows.len() - before == room;
        }
    }
    rows.sort_by_key(|(due, c)| (*due, c.id));
    let mut out = Vec::new();
    // The lease leaves `updated_at` alone: the attempt's outcome stamps it anyway.
    let mut lease =
        conn.prepare_cached("UPDATE webhook_deliveries SET lease_until = ?2 WHERE id = ?1")?;
    for (_, c) in rows {
        if out.len() >= limit {
            capped = true;
            break;
        }
        let room = rooms.entry(c.endpoint_id).or_default();
        if *room == 0 || !admission.admit(c.endpoint_id) {
            capped = true;
            continue;
        }
        *room -= 1;
        lease.execute(params![c.id, lease_until])?;
        out.push(c);
    }
    Ok((out, capped))
}

/// An endpoint's oldest due, unleased deliveries of one status (`?1` endpoint, `?2` status,
/// `?3` now), at most `room`.
fn claim_sql(room: usize) -> String {
    format!(
        "SELECT d.id, d.endpoint_id, d.attempts - d.attempt_base, ev.msg_id, ev.payload, e.url, \
           e.secret, CASE WHEN e.previous_until > ?3 THEN e.previous_secret END, d.next_attempt_at, \
           d.event_id \
         FROM webhook_deliveries d \
         JOIN webhook_events ev ON ev.id = d.event_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.endpoint_id = ?1 AND d.status = ?2 AND d.status <> 'delivered' \
           AND d.next_attempt_at <= ?3 AND (d.lease_until IS NULL OR d.lease_until < ?3) \
         ORDER BY d.next_attempt_at, d.id LIMIT {room}"
    )
}

const NEXT_DUE: &str = "SELECT MIN((SELECT d.next_attempt_at FROM webhook_deliveries d \
       WHERE d.endpoint_id = e.id AND d.status = s.status AND d.status <> 'delivered' \
         AND d.lease_until IS NULL \
       ORDER BY d.next_attempt_at LIMIT 1)) \
     FROM webhook_endpoints e, (SELECT 'pending' AS status UNION ALL SELECT 'failed') s \
     WHERE e.enabled = 1";

/// When the next delivery falls due (ms), if any waits.
///
/// One look per enabled endpoint and status down its claim index, past the few leased rows at
/// its head: the worker asks after every claim, and a minimum over all waiting deliveries had
/// it read the whole backlog each time (70,000 rows after a burst of creates).
pub fn next_due(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached(NEXT_DUE)?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Releases every lease: at start, the claims of a previous process are void at once.
pub fn release_leases(conn: &Connection) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL",
        [],
    )?)
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it started (ms).
    pub at: i64,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub response: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// Records an attempt and the delivery's new state: `status` (`delivered`, `failed`, `dead`
/// or `paused`) and, for `failed`, when to try again. False, and nothing written, when the
/// delivery is gone: its endpoint was removed while the attempt was in flight, and the
/// attempt has nothing left to belong to.
///
/// The delivery is found by its id, event and endpoint together. A delivery is sent as soon
/// as it is made and leased, before that write commits (`Writer::write_uncommitted`); were
/// that transaction lost, its ids would be handed out again, and could go to other events'
/// deliveries (one whose endpoint was removed meanwhile gets none): the attempt then belongs
/// to no delivery, rather than to one that was never sent.
pub fn record_attempt(
    conn: &Connection,
    c: &Claimed,
    attempt: &Attempt,
    status: &str,
    next_attempt_at: i64,
    now: i64,
) -> StoreResult<bool> {
    let updated = conn.prepare_cached(
        "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3, \
           lease_until = NULL, last_status = ?4, last_error = ?5, last_response = ?6, \
           last_latency_ms = ?7, updated_at = ?8 \
         WHERE id = ?1 AND event_id = ?9 AND endpoint_id = ?10",
    )?
    .execute(params![
        c.id,
        status,
        next_attempt_at,
        attempt.status,
        attempt.error,
        attempt.response,
        attempt.latency_ms,
        now,
        c.event_id,
        c.endpoint_id
    ])?;
    if updated == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status, error, latency_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        c.id,
        attempt.at,
        attempt.status,
        attempt.error,
        attempt.latency_ms
    ])?;
    Ok(true)
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// When (ms).
    pub attempted_at: i64,
    /// HTTP status, if an answer came.
    pub status: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// Every attempt of a delivery, oldest first.
pub fn attempts(conn: &Connection, delivery: i64) -> StoreResult<Vec<AttemptRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempted_at, status, error, latency_ms FROM webhook_attempts \
         WHERE delivery_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([delivery], |r| {
            Ok(AttemptRow {
                attempted_at: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
                latency_ms: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

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

/// Finished (delivered, dead) and long-parked deliveries last changed before `?1` with ids
/// from `?2` to `?3`: all of them were created before the cutoff too. `+status`: no index of
/// statuses is worth reading for rows the walk visits anyway.
const PRUNE_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id >= ?2 AND id <= ?3 \
     AND +status IN ('delivered', 'dead', 'paused') AND updated_at < ?1";

/// Events created before `?1` with ids from `?2` to `?3` that no delivery is left of, and
/// whose deliveries were made (`fanout`): an event still to do has none yet.
const PRUNE_EVENTS: &str = "DELETE FROM webhook_events WHERE id >= ?2 AND id <= ?3 \
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

/// The delivery of an event to one endpoint.
pub fn find_for_event(
    conn: &Connection,
    event_id: i64,
    endpoint: EndpointId,
) -> StoreResult<Option<Delivery>> {
    Ok(conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE d.event_id = ?1 AND d.endpoint_id = ?2"),
            params![event_id, endpoint],
            delivery_from_row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests;
