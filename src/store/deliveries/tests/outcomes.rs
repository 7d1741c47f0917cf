//! Attempts recorded only on the delivery they were made for, and the list of deliveries.

use super::*;

/// `webhook remove` while an attempt to the endpoint is in flight takes its deliveries with
/// it (ON DELETE CASCADE): the attempt's outcome then has nothing to belong to, which is no
/// error. A delivery still there gets its attempt recorded.
#[test]
fn an_attempt_whose_delivery_was_removed_records_nothing_and_is_no_error() {
    let conn = outbox();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    add(&conn, 1, "pending", 100, Some(9_000)); // 1: in flight when its endpoint goes
    add(&conn, 2, "pending", 100, Some(9_000)); // 2: its endpoint stays
    conn.execute("DELETE FROM webhook_endpoints WHERE id = 1", [])
        .unwrap();
    let attempt = Attempt {
        at: 1_000,
        status: Some(200),
        error: None,
        response: Some("ok".into()),
        latency_ms: 5,
    };
    assert!(!record_attempt(&conn, &sent(1, 1, 1), &attempt, "delivered", 1_000, 1_000).unwrap());
    assert!(record_attempt(&conn, &sent(2, 1, 2), &attempt, "delivered", 1_000, 1_000).unwrap());
    assert_eq!(ids(&conn, "webhook_attempts"), [1]);
    assert_eq!(attempts(&conn, 2).unwrap().len(), 1);
}

/// What a sender was handed: delivery `id`, of `event`, to `endpoint`.
fn sent(id: i64, event: i64, endpoint: i64) -> Claimed {
    Claimed {
        id,
        event_id: event,
        endpoint_id: EndpointId(endpoint),
        attempts_in_schedule: 0,
        msg_id: format!("msg_{event}"),
        payload: "{}".into(),
        url: "http://a.example".into(),
        secret: "s".into(),
        previous_secret: None,
    }
}

/// An attempt at a delivery whose id now names another event's or another endpoint's
/// delivery (its uncommitted making was lost, and the id handed out again) records nothing:
/// the delivery it names was never sent.
#[test]
fn an_attempt_is_recorded_only_on_the_delivery_it_was_made_for() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at) \
           VALUES (2, 77, 'msg_2', 'lead.created', '{}', 0)",
    )
    .unwrap();
    add(&conn, 1, "pending", 100, None); // id 1: event 1 to endpoint 1
    let attempt = Attempt {
        at: 1_000,
        status: Some(200),
        error: None,
        response: None,
        latency_ms: 5,
    };
    for other in [sent(1, 2, 1), sent(1, 1, 2)] {
        assert!(!record_attempt(&conn, &other, &attempt, "delivered", 1_000, 1_000).unwrap());
    }
    assert!(ids(&conn, "webhook_attempts").is_empty());
    let status: String = conn
        .query_row(
            "SELECT status FROM webhook_deliveries WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "pending");
    assert!(record_attempt(&conn, &sent(1, 1, 1), &attempt, "delivered", 1_000, 1_000).unwrap());
}

/// The list is newest first by event: a delivery made later for an earlier event (a burst's,
/// made after it) lists under the delivery of a later event made before it (a test delivery).
#[test]
fn deliveries_are_listed_newest_event_first() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at) \
           VALUES (2, 77, 'msg_2', 'lead.created', '{}', 0), \
                  (3, 77, 'msg_3', 'webhook.test', '{}', 0); \
         INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, \
           created_at, updated_at) VALUES \
           (10, 3, 1, 'pending', 0, 0, 0), \
           (11, 1, 1, 'pending', 0, 0, 0), \
           (12, 2, 1, 'pending', 0, 0, 0), \
           (13, 2, 2, 'paused', 0, 0, 0);",
    )
    .unwrap();
    let order: Vec<i64> = list(&conn, Some(AccountId(77)), None, None, 10)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(order, [10, 13, 12, 11]);
    let order: Vec<i64> = list(&conn, None, Some(EndpointId(1)), Some("pending"), 2)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(order, [10, 12]);
}
