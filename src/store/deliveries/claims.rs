//! Claiming due deliveries for the worker: a lease per claimed delivery, when the next one
//! falls due, and releasing the leases of a previous process.

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::EndpointId;
use crate::store::StoreResult;

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
pub(super) fn claim_sql(room: usize) -> String {
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

pub(super) const NEXT_DUE: &str = "SELECT MIN((SELECT d.next_attempt_at FROM webhook_deliveries d \
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
