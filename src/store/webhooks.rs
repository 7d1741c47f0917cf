//! Webhook endpoints, the outbox of events, and deliveries.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreResult, parse_string_list, string_list};
use crate::json_string;
use crate::model::{AccountId, EndpointId};

mod subscriptions;
pub(super) use subscriptions::watch as watch_subscriptions;

/// An endpoint as stored (secrets included: callers decide what to show).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Id.
    pub id: EndpointId,
    /// Account.
    pub account_id: AccountId,
    /// Where deliveries go.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// Subscribed event types (`*` for all).
    pub events: Vec<String>,
    /// Current signing secret.
    pub secret: String,
    /// The secret before the last rotation, still used until `previous_until`.
    pub previous_secret: Option<String>,
    /// End of the rotation overlap (ms).
    pub previous_until: Option<i64>,
    /// Whether deliveries go out.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// The account's name, for lists of several accounts.
    pub account_name: String,
}

const ENDPOINT_COLUMNS: &str = "id, account_id, url, description, events, secret, previous_secret, previous_until, \
                                enabled, disabled_reason, created_at, \
                                (SELECT name FROM accounts WHERE accounts.id = webhook_endpoints.account_id)";

fn endpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Endpoint, String)> {
    Ok((
        Endpoint {
            id: r.get(0)?,
            account_id: r.get(1)?,
            url: r.get(2)?,
            description: r.get(3)?,
            events: Vec::new(),
            secret: r.get(5)?,
            previous_secret: r.get(6)?,
            previous_until: r.get(7)?,
            enabled: r.get(8)?,
            disabled_reason: r.get(9)?,
            created_at: r.get(10)?,
            account_name: r.get(11)?,
        },
        r.get(4)?,
    ))
}

fn decode_endpoint((mut e, events): (Endpoint, String)) -> StoreResult<Endpoint> {
    e.events = parse_string_list(&events)?;
    Ok(e)
}

/// Inserts an endpoint.
pub fn insert_endpoint(
    conn: &Connection,
    account: AccountId,
    url: &str,
    description: Option<&str>,
    events: &[String],
    secret: &str,
    now: i64,
) -> StoreResult<EndpointId> {
    conn.execute(
        &format!(
            "INSERT INTO webhook_endpoints (id, account_id, url, description, events, secret, \
               created_at, updated_at) VALUES ({}, ?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            super::ids::next_id_sql("webhook_endpoints")
        ),
        params![account, url, description, string_list(events), secret, now],
    )?;
    Ok(EndpointId(conn.last_insert_rowid()))
}

/// Finds an endpoint by id.
pub fn find_endpoint(conn: &Connection, id: EndpointId) -> StoreResult<Option<Endpoint>> {
    let row = conn
        .query_row(
            &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
            [id],
            endpoint_from_row,
        )
        .optional()?;
    row.map(decode_endpoint).transpose()
}

/// Endpoints of one account, or of all.
pub fn list_endpoints(conn: &Connection, account: Option<AccountId>) -> StoreResult<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE (?1 IS NULL OR account_id = ?1) ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([account], endpoint_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode_endpoint).collect()
}

/// Deletes an endpoint and its deliveries.
pub fn delete_endpoint(conn: &Connection, id: EndpointId) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])? == 1)
}

/// The ids of the account's endpoints subscribed to `kind`, enabled or not (a disabled
/// endpoint's deliveries wait, paused: `fanout` looks at that when it makes them).
///
/// Every API write asks, on the writer. The list is looked up as text: `events` is always
/// written by `string_list` (compact JSON), where an item's opening quote follows `[` or `,`
/// and a quote inside an item follows `\`; so `[` or `,` then the quoted name is found
/// exactly when the name is an item, whatever the items hold. `json_each` parsed each
/// endpoint's list at every write (5% of the writer's time in a burst of creates).
///
/// On the writer the answer is kept between writes, as long as it holds (`subscriptions`).
pub fn subscribed_endpoints(
    conn: &Connection,
    account: AccountId,
    kind: &str,
) -> StoreResult<Vec<EndpointId>> {
    subscriptions::subscribed(conn, account, kind, || {
        query_subscribed(conn, account, kind)
    })
}

fn query_subscribed(
    conn: &Connection,
    account: AccountId,
    kind: &str,
) -> StoreResult<Vec<EndpointId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id FROM webhook_endpoints e WHERE e.account_id = ?1 \
         AND (instr(e.events, '[' || ?2) > 0 OR instr(e.events, ',' || ?2) > 0 \
              OR instr(e.events, '[\"*\"') > 0 OR instr(e.events, ',\"*\"') > 0)",
    )?;
    // The name as `string_list` writes an item: `"lead.created"`.
    let rows = stmt
        .query_map(params![account, json_string::quoted(kind)], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// An event's insert. Its id is above the fan-out's mark (`webhook_fanout.upto`), whatever a
/// prune left of the table: an event at or below the mark would never get its deliveries.
/// Only when the mark is at or above the largest id (every event fanned out) is the id given
/// here; otherwise SQLite's own choice, the largest plus one, is above the mark already.
const INSERT_EVENT: &str = "INSERT INTO webhook_events \
       (id, account_id, msg_id, type, payload, created_at, endpoint_ids) \
     VALUES ((SELECT upto + 1 FROM webhook_fanout \
                WHERE upto >= (SELECT COALESCE(MAX(id), 0) FROM webhook_events)), \
             ?1, ?2, ?3, ?4, ?5, ?6)";

/// Queues an event for these endpoints; its deliveries (pending, or paused while the endpoint
/// is disabled) are made later, in bulk, by `fanout::fan_out`. Only the event is written in
/// the change's transaction: it is the durable record that the deliveries will be made.
pub fn insert_event(
    conn: &Connection,
    account: AccountId,
    msg_id: &str,
    kind: &str,
    payload: &str,
    endpoints: &[EndpointId],
    now: i64,
) -> StoreResult<i64> {
    super::writer::note_events_queued();
    conn.prepare_cached(INSERT_EVENT)?.execute(params![
        account,
        msg_id,
        kind,
        payload,
        now,
        super::fanout::endpoint_list(endpoints)
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Enables or disables an endpoint; `reason` says why it was disabled (cleared on enable).
pub fn set_enabled(
    conn: &Connection,
    id: EndpointId,
    enabled: bool,
    reason: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE webhook_endpoints SET enabled = ?2, disabled_reason = ?3, updated_at = ?4, \
           failing_since = CASE WHEN ?2 THEN NULL ELSE failing_since END WHERE id = ?1",
        params![id, enabled, if enabled { None } else { reason }, now],
    )?;
    Ok(n == 1)
}

/// Disables an endpoint that is enabled, saying why; false, and nothing changed, when it is
/// disabled already (or gone). For the delivery worker: the attempts in flight when a
/// receiver answers 410 each come back with it, and only the first disables the endpoint, so
/// the reason and time people see are the first answer's.
pub fn disable_if_enabled(
    conn: &Connection,
    id: EndpointId,
    reason: &str,
    now: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3 \
         WHERE id = ?1 AND enabled = 1",
        params![id, reason, now],
    )?;
    Ok(n == 1)
}

/// Replaces the signing secret; the old one keeps signing alongside until `previous_until`.
pub fn rotate_secret(
    conn: &Connection,
    id: EndpointId,
    secret: &str,
    previous_until: i64,
    now: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?3, secret = ?2, \
           updated_at = ?4 WHERE id = ?1",
        params![id, secret, previous_until, now],
    )?;
    Ok(n == 1)
}

/// Notes a failed attempt; returns since when the endpoint has failed without a success.
pub fn mark_failing(conn: &Connection, id: EndpointId, now: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(conn
        .query_row(
            "SELECT failing_since FROM webhook_endpoints WHERE id = ?1",
            [id],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(now))
}

/// Notes a successful attempt: the endpoint is healthy again.
pub fn mark_healthy(conn: &Connection, id: EndpointId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL",
    )?
    .execute([id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated database in memory with accounts 77 and 78.
    fn accounts() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
               VALUES (77, 'a', 'pro', 'active', 0, 0), (78, 'b', 'pro', 'active', 0, 0);",
        )
        .unwrap();
        conn
    }

    /// An endpoint is found for an event type it names, or for `*`, and for no other: not for
    /// an item that merely contains the name or the wildcard (quotes and all), nor for another
    /// account's event.
    #[test]
    fn subscriptions_match_whole_names_or_the_wildcard() {
        let conn = accounts();
        let lists: [(i64, &[&str]); 6] = [
            (77, &["job.created", "lead.created"]),
            (77, &["*"]),
            (77, &["lead.updated", "lead.deleted"]),
            (
                77,
                &["lead.created_x", "x.lead.created", "x\"lead.created", "\"*"],
            ),
            (77, &["lead.created"]),
            (78, &["lead.created"]),
        ];
        for (account, events) in lists {
            let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
            insert_endpoint(
                &conn,
                AccountId(account),
                "http://a.example",
                None,
                &events,
                "s",
                0,
            )
            .unwrap();
        }
        set_enabled(&conn, EndpointId(5), false, Some("off"), 0).unwrap();
        let found = |kind: &str| subscribed_endpoints(&conn, AccountId(77), kind).unwrap();
        let ids = |v: Vec<EndpointId>| v.into_iter().map(|e| e.0).collect::<Vec<_>>();
        // A disabled endpoint too: its deliveries are made, paused.
        assert_eq!(ids(found("lead.created")), vec![1, 2, 5]);
        assert_eq!(ids(found("lead.deleted")), vec![2, 3]);
        assert_eq!(ids(found("job.updated")), vec![2]);
        // Names JSON escapes are looked up escaped, as `string_list` stored them.
        assert_eq!(ids(found("x\"lead.created")), vec![2, 4]);
        assert_eq!(ids(found("\"*")), vec![2, 4]);
    }

    /// Only the first of several disables (attempts in flight that each came back 410) takes:
    /// its reason and time are kept.
    #[test]
    fn an_endpoint_is_disabled_once_with_the_first_reason() {
        let conn = accounts();
        let events = ["*".to_owned()];
        let e = insert_endpoint(
            &conn,
            AccountId(77),
            "http://a.example",
            None,
            &events,
            "s",
            0,
        )
        .unwrap();
        assert!(disable_if_enabled(&conn, e, "410 at 10", 10).unwrap());
        assert!(!disable_if_enabled(&conn, e, "410 at 11", 11).unwrap());
        let found = find_endpoint(&conn, e).unwrap().unwrap();
        assert!(!found.enabled);
        assert_eq!(found.disabled_reason.as_deref(), Some("410 at 10"));
        assert!(!disable_if_enabled(&conn, EndpointId(999), "gone", 12).unwrap());
    }

    /// Neither the newest endpoint's id, once deleted, nor the outbox's ids, once a prune has
    /// emptied it, are handed out again (`store::ids`).
    #[test]
    fn endpoint_and_delivery_ids_are_never_handed_out_again() {
        let conn = accounts();
        let add = || {
            let events = ["*".to_owned()];
            insert_endpoint(
                &conn,
                AccountId(77),
                "http://a.example",
                None,
                &events,
                "s",
                0,
            )
            .unwrap()
        };
        let (kept, newest) = (add(), add());
        assert!(delete_endpoint(&conn, newest).unwrap());
        let next = add();
        assert_eq!(next.0, newest.0 + 1);

        let queue = |msg: &str| {
            let endpoints = [kept, next];
            insert_event(
                &conn,
                AccountId(77),
                msg,
                "lead.created",
                "{}",
                &endpoints,
                0,
            )
            .unwrap();
            crate::store::fanout::fan_out(&conn, 100, 0).unwrap();
            conn.prepare("SELECT id FROM webhook_deliveries ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get::<_, i64>(0))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        queue("msg_1");
        let before = queue("msg_2");
        // As the prune leaves it after a quiet retention period: nothing.
        conn.execute_batch("DELETE FROM webhook_deliveries; DELETE FROM webhook_events;")
            .unwrap();
        let after = queue("msg_3");
        let last = *before.last().unwrap();
        assert_eq!(after, vec![last + 1, last + 2]);
    }
}
