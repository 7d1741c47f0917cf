//! Tests of the deliveries: the shared fixtures here, one module per topic below.

mod claims;
mod outcomes;
mod prune;

use super::claims::{NEXT_DUE, claim_sql};
use super::prune::{PRUNE_DELIVERIES, PRUNE_EVENTS, window};
use super::*;

/// A migrated database with endpoint 1 (enabled) and 2 (disabled), and one event. The tests
/// write their deliveries themselves: every event, up to id 10^6, counts as fanned out.
fn outbox() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (77, 'a', 'pro', 'active', 0, 0); \
         INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, created_at, updated_at) \
           VALUES (1, 77, 'http://a.example', '[\"*\"]', 's', 1, 0, 0), \
                  (2, 77, 'http://b.example', '[\"*\"]', 's', 0, 0, 0); \
         INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at) \
           VALUES (1, 77, 'msg_1', 'lead.created', '{}', 0); \
         UPDATE webhook_fanout SET upto = 1000000;",
    )
    .unwrap();
    conn
}

fn add(conn: &Connection, endpoint: i64, status: &str, due: i64, lease: Option<i64>) {
    conn.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, next_attempt_at, \
           lease_until, created_at, updated_at) VALUES (1, ?1, ?2, ?3, ?4, 0, 0)",
        params![endpoint, status, due, lease],
    )
    .unwrap();
}

/// The ids of a table's rows, in order.
fn ids(conn: &Connection, table: &str) -> Vec<i64> {
    conn.prepare(&format!("SELECT id FROM {table} ORDER BY id"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
