//! Webhook deliveries made from their events, many at a time (migration V16).
//!
//! A change's transaction writes only its event, with the endpoints subscribed at that moment
//! (`webhooks::insert_event`). Its deliveries are made here, afterwards: by the delivery
//! worker, in its claims (once a second while API writes crowd the server, so that a burst's
//! webhooks yield to it: `webhooks::worker`); and by the deliveries list before it looks.
//!
//! `webhook_fanout.upto` is the last event done. Events are done in id order, so the events
//! after it are exactly those still to do; an event's id is always above it
//! (`webhooks::insert_event`) and the prune never takes an event above it.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, StoreResult};
use crate::model::{AccountId, EndpointId};

/// The most events one `fan_out` does, and about the most deliveries it makes (it finishes
/// the event it is at): a few milliseconds of the writer's time at most, so that sends are
/// claimed between fan-outs even when each event goes to many endpoints. (With 8 endpoints
/// and a limit on events only, each fan-out after a burst made 8,192 deliveries, and the
/// endpoints got ~40 attempts a second each until the backlog was made.)
pub const BATCH: usize = 1024;
/// The most `fan_out`s a deliveries list makes before it looks (8,192 events): a list asked
/// for during a long burst does not make the whole backlog, which is the worker's to make.
pub const BEFORE_A_LIST: usize = 8;

/// A delivery's insert, with an id never handed out before (`store::ids`): due and created
/// when its event was (`?4`; the prune walks deliveries by id, in event order), changed
/// (`?5`) when made. A delivery made paused long after its event (the server was stopped with
/// events still to make) is then not pruned at once as a long-parked one.
static INSERT_DELIVERY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, \
           created_at, updated_at) VALUES ({}, ?1, ?2, ?3, ?4, ?4, ?5)",
        super::ids::next_id_sql("webhook_deliveries")
    )
});

fn status(enabled: bool) -> &'static str {
    if enabled { "pending" } else { "paused" }
}

/// What one `fan_out` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Events whose deliveries it made.
    pub events: usize,
    /// Deliveries it made.
    pub deliveries: usize,
    /// True when events may be left to do: it stopped at its limit.
    pub more: bool,
}

/// The endpoints of an event as stored: a JSON array of ids.
pub fn endpoint_list(endpoints: &[EndpointId]) -> String {
    let mut out = String::with_capacity(2 + 8 * endpoints.len());
    out.push('[');
    for (i, e) in endpoints.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(itoa::Buffer::new().format(e.0));
    }
    out.push(']');
    out
}

fn parse_list(event: i64, text: Option<&str>) -> StoreResult<Vec<i64>> {
    // NULL only for events from before V16, which are all at or below the mark.
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!(
            "webhook event {event}: endpoint list `{text}`: {e}"
        ))
    })
}

/// The endpoints of an event; none, with an error logged, for a list that does not parse
/// (only a hand edit of the database makes one): one such event must not hold up the
/// deliveries of every event after it.
fn endpoints_of(event: i64, text: Option<&str>) -> Vec<i64> {
    parse_list(event, text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a webhook event's endpoints are unreadable; it is not sent");
        Vec::new()
    })
}

/// Makes the deliveries of the next `limit` events after the mark, in id order, and moves the
/// mark past them; it stops early, after the event that brings its deliveries to `limit`.
/// Each delivery starts `pending`, due since its event, or `paused` while its endpoint is
/// disabled; an endpoint removed since gets none. Run inside a write transaction: the
/// deliveries and the mark commit together.
pub fn fan_out(conn: &Connection, limit: usize, now: i64) -> StoreResult<FanOut> {
    let upto: i64 = conn
        .prepare_cached("SELECT upto FROM webhook_fanout WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    // The LIMIT is a literal: a bound one is a value the planner looks at, so SQLite would
    // prepare the statement again at every run (it was a quarter of the writer's time while
    // a backlog of deliveries drained).
    let events: Vec<(i64, Option<String>, i64)> = conn
        .prepare_cached(&format!(
            "SELECT id, endpoint_ids, created_at FROM webhook_events WHERE id > ?1 \
             ORDER BY id LIMIT {limit}"
        ))?
        .query_map([upto], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if events.is_empty() {
        return Ok(FanOut::default());
    }
    // Whether each endpoint is enabled; `None` once removed.
    let mut endpoints: HashMap<i64, Option<bool>> = HashMap::new();
    let mut enabled = conn.prepare_cached("SELECT enabled FROM webhook_endpoints WHERE id = ?1")?;
    let mut insert = conn.prepare_cached(&INSERT_DELIVERY)?;
    let (mut made, mut done, mut last) = (0, 0, 0);
    for (event, list, created_at) in &events {
        if made >= limit {
            break;
        }
        (done, last) = (done + 1, *event);
        for endpoint in endpoints_of(*event, list.as_deref()) {
            let state = match endpoints.get(&endpoint) {
                Some(state) => *state,
                None => {
                    let state = enabled
                        .query_row([endpoint], |r| r.get::<_, bool>(0))
                        .optional()?;
                    endpoints.insert(endpoint, state);
                    state
                }
            };
            let Some(on) = state else { continue };
            insert.execute(params![event, endpoint, status(on), created_at, now])?;
            made += 1;
        }
    }
    conn.prepare_cached("UPDATE webhook_fanout SET upto = ?1 WHERE id = 1")?
        .execute([last])?;
    Ok(FanOut {
        events: done,
        deliveries: made,
        more: done < events.len() || events.len() == limit,
    })
}

/// `fan_out` in a savepoint of its own: when it fails, what it did is undone and the error
/// returned, and the caller's transaction goes on (the delivery worker's claim that follows).
pub fn fan_out_alone(conn: &Connection, limit: usize, now: i64) -> StoreResult<FanOut> {
    conn.execute_batch("SAVEPOINT fan_out")?;
    match fan_out(conn, limit, now) {
        Ok(step) => {
            conn.execute_batch("RELEASE fan_out")?;
            Ok(step)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO fan_out; RELEASE fan_out")?;
            Err(e)
        }
    }
}

/// Makes the deliveries of every event still to do, in the caller's transaction; returns how
/// many it made. For tests, and a store with a small backlog: a server's backlog is made a
/// `BATCH` a write.
pub fn fan_out_all(conn: &Connection, now: i64) -> StoreResult<usize> {
    let mut made = 0;
    loop {
        let step = fan_out(conn, BATCH, now)?;
        made += step.deliveries;
        if !step.more {
            return Ok(made);
        }
    }
}

/// Makes the delivery of an event queued for no endpoint (`insert_event` with none) to
/// `endpoint` at once, in the caller's transaction: a test delivery, which is shown as soon as
/// it is queued and must not wait for, nor make, the deliveries of the events before it.
pub fn make_now(
    conn: &Connection,
    event: i64,
    endpoint: EndpointId,
    enabled: bool,
    now: i64,
) -> StoreResult<i64> {
    conn.prepare_cached(&INSERT_DELIVERY)?.execute(params![
        event,
        endpoint,
        status(enabled),
        now,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The deliveries still to be made, as `(pending, paused)`: what they will be made as, by
/// their endpoints' state now; of one account's or one endpoint's when given (for the outbox's
/// depth in the metrics, and the note under a list of deliveries).
pub fn still_to_make(
    conn: &Connection,
    account: Option<AccountId>,
    endpoint: Option<EndpointId>,
) -> StoreResult<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(e.enabled = 1), 0), COALESCE(SUM(e.enabled = 0), 0) \
             FROM webhook_events ev, json_each(ev.endpoint_ids) j \
             JOIN webhook_endpoints e ON e.id = j.value \
             WHERE ev.id > (SELECT upto FROM webhook_fanout WHERE id = 1) \
               AND (?1 IS NULL OR e.account_id = ?1) AND (?2 IS NULL OR e.id = ?2)",
        )?
        .query_row(params![account, endpoint], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

#[cfg(test)]
mod tests;
