use super::*;
use crate::model::AccountId;
use crate::store::{deliveries, webhooks};

/// A migrated database with endpoints 1 (enabled), 2 (disabled) and 3 (enabled).
fn outbox() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (77, 'a', 'pro', 'active', 0, 0); \
         INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, created_at, updated_at) \
           VALUES (1, 77, 'http://a.example', '[\"*\"]', 's', 1, 0, 0), \
                  (2, 77, 'http://b.example', '[\"*\"]', 's', 0, 0, 0), \
                  (3, 77, 'http://c.example', '[\"*\"]', 's', 1, 0, 0);",
    )
    .unwrap();
    conn
}

fn queue(conn: &Connection, msg: &str, endpoints: &[i64], at: i64) -> i64 {
    let endpoints: Vec<EndpointId> = endpoints.iter().map(|e| EndpointId(*e)).collect();
    webhooks::insert_event(
        conn,
        AccountId(77),
        msg,
        "lead.created",
        "{}",
        &endpoints,
        at,
    )
    .unwrap()
}

/// `(event, endpoint, status, next_attempt_at, created_at)` of every delivery, by id.
fn made(conn: &Connection) -> Vec<(i64, i64, String, i64, i64)> {
    conn.prepare(
        "SELECT event_id, endpoint_id, status, next_attempt_at, created_at \
         FROM webhook_deliveries ORDER BY id",
    )
    .unwrap()
    .query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn mark(conn: &Connection) -> i64 {
    conn.query_row("SELECT upto FROM webhook_fanout", [], |r| r.get(0))
        .unwrap()
}

/// An event is written alone; the fan-out makes one delivery per endpoint it was queued for,
/// in event order, due since the event: pending, or paused for an endpoint disabled by then,
/// and none for an endpoint removed by then.
#[test]
fn deliveries_are_made_from_events_as_their_endpoints_stand_at_the_fan_out() {
    let conn = outbox();
    let first = queue(&conn, "msg_1", &[1, 2], 100);
    let second = queue(&conn, "msg_2", &[3, 1], 200);
    assert!(
        made(&conn).is_empty(),
        "the change's transaction writes the event only"
    );
    assert_eq!(still_to_make(&conn, None, None).unwrap(), (3, 1));

    // Between the event and the fan-out, endpoint 3 is removed and 1 disabled.
    webhooks::delete_endpoint(&conn, EndpointId(3)).unwrap();
    webhooks::set_enabled(&conn, EndpointId(1), false, Some("off"), 150).unwrap();
    let step = fan_out(&conn, BATCH, 5_000).unwrap();
    assert_eq!(
        step,
        FanOut {
            events: 2,
            deliveries: 3,
            more: false
        }
    );
    let paused = |event, endpoint, at| (event, endpoint, "paused".to_owned(), at, at);
    assert_eq!(
        made(&conn),
        vec![
            paused(first, 1, 100),
            paused(first, 2, 100),
            paused(second, 1, 200)
        ]
    );
    assert_eq!(mark(&conn), second);
    assert_eq!(still_to_make(&conn, None, None).unwrap(), (0, 0));
    // Changed when made: a delivery made paused long after its event is not pruned at once as
    // long parked.
    let changed: Vec<i64> = conn
        .prepare("SELECT updated_at FROM webhook_deliveries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(changed, [5_000; 3]);
    assert_eq!(
        fan_out(&conn, BATCH, 5_000).unwrap(),
        FanOut::default(),
        "done once"
    );

    // Enabled again, the next event's delivery to it is pending.
    webhooks::set_enabled(&conn, EndpointId(1), true, None, 300).unwrap();
    let third = queue(&conn, "msg_3", &[1], 300);
    fan_out(&conn, BATCH, 5_000).unwrap();
    assert_eq!(
        made(&conn).last().unwrap(),
        &(third, 1, "pending".to_owned(), 300, 300)
    );
}

/// A fan-out takes at most its limit of events, says when it stopped there, and the next one
/// goes on from there; `fan_out_all` takes them all.
#[test]
fn a_fan_out_takes_at_most_its_limit_and_the_next_goes_on_from_there() {
    let conn = outbox();
    let events: Vec<i64> = (0..5)
        .map(|i| queue(&conn, &format!("msg_{i}"), &[1], i))
        .collect();
    let step = fan_out(&conn, 2, 5_000).unwrap();
    assert_eq!((step.events, step.deliveries, step.more), (2, 2, true));
    assert_eq!(mark(&conn), events[1]);
    let step = fan_out(&conn, 2, 5_000).unwrap();
    assert_eq!((step.events, step.more), (2, true));
    let step = fan_out(&conn, 2, 5_000).unwrap();
    assert_eq!((step.events, step.more), (1, false));
    let order: Vec<i64> = made(&conn).iter().map(|d| d.0).collect();
    assert_eq!(order, events, "one each, in event order");

    for i in 5..(BATCH as i64 * 2 + 3) {
        queue(&conn, &format!("msg_{i}"), &[1, 3], i);
    }
    assert_eq!(fan_out_all(&conn, 5_000).unwrap(), (BATCH * 2 - 2) * 2);
    assert_eq!(still_to_make(&conn, None, None).unwrap(), (0, 0));
}

/// An event's id is above the mark even when a prune emptied the table: the event SQLite
/// would number 1 again would never get its deliveries. And the prune leaves events whose
/// deliveries are still to be made, however old.
#[test]
fn no_event_is_queued_below_the_mark_nor_pruned_before_its_deliveries_exist() {
    let conn = outbox();
    queue(&conn, "msg_1", &[1], 0);
    let second = queue(&conn, "msg_2", &[1], 0);
    fan_out_all(&conn, 5_000).unwrap();
    conn.execute_batch("DELETE FROM webhook_deliveries; DELETE FROM webhook_events;")
        .unwrap();
    let third = queue(&conn, "msg_3", &[1], 10);
    assert_eq!(third, second + 1);

    // Old and with no delivery yet: the prune keeps it until it has its delivery.
    let step = deliveries::prune_events(&conn, 1_000, 2_000, 0, 100).unwrap();
    assert_eq!(step.deleted, 0);
    assert_eq!(fan_out_all(&conn, 5_000).unwrap(), 1);
    assert_eq!(made(&conn)[0].0, third);
}

/// The stored list of endpoints reads back as written. A list that does not parse is reported
/// with its event, and that event gets no delivery, but the events after it do.
#[test]
fn endpoint_lists_round_trip_and_a_bad_one_is_an_error() {
    let list = endpoint_list(&[EndpointId(4), EndpointId(17)]);
    assert_eq!(list, "[4,17]");
    assert_eq!(parse_list(9, Some(&list)).unwrap(), vec![4, 17]);
    assert_eq!(endpoint_list(&[]), "[]");
    assert!(parse_list(9, None).unwrap().is_empty());
    let err = parse_list(9, Some("4,17")).unwrap_err().to_string();
    assert!(err.contains("webhook event 9"), "{err}");

    let conn = outbox();
    let bad = queue(&conn, "msg_1", &[1], 0);
    let good = queue(&conn, "msg_2", &[1], 0);
    conn.execute(
        "UPDATE webhook_events SET endpoint_ids = 'x' WHERE id = ?1",
        [bad],
    )
    .unwrap();
    let step = fan_out(&conn, BATCH, 5_000).unwrap();
    assert_eq!((step.events, step.deliveries), (2, 1));
    assert_eq!(made(&conn)[0].0, good);
    assert_eq!(mark(&conn), good);
}

/// A test delivery is made with its event, at once, and only for it: the events queued before
/// it keep waiting for the fan-out, and the fan-out makes nothing more for it.
#[test]
fn a_delivery_made_at_once_leaves_the_events_before_it_waiting() {
    let conn = outbox();
    let earlier = queue(&conn, "msg_1", &[1], 0);
    let test = queue(&conn, "msg_2", &[], 10);
    make_now(&conn, test, EndpointId(2), false, 20).unwrap();
    assert_eq!(made(&conn), vec![(test, 2, "paused".to_owned(), 20, 20)]);
    assert_eq!(mark(&conn), 0);
    let step = fan_out(&conn, BATCH, 30).unwrap();
    assert_eq!((step.events, step.deliveries), (2, 1));
    assert_eq!(made(&conn)[1].0, earlier);
}

/// A fan-out that fails is undone, and the transaction it ran in goes on.
#[test]
fn a_failed_fan_out_alone_is_undone_alone() {
    let conn = outbox();
    queue(&conn, "msg_1", &[1, 3], 0);
    conn.execute_batch(
        "BEGIN; CREATE TRIGGER no_second BEFORE INSERT ON webhook_deliveries \
           WHEN new.endpoint_id = 3 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    conn.execute(
        "UPDATE webhook_endpoints SET url = 'http://x.example' WHERE id = 1",
        [],
    )
    .unwrap();
    assert!(fan_out_alone(&conn, BATCH, 1).is_err());
    assert!(made(&conn).is_empty(), "its first delivery undone too");
    assert_eq!(mark(&conn), 0);
    conn.execute_batch("DROP TRIGGER no_second; COMMIT")
        .unwrap();
    let url: String = conn
        .query_row("SELECT url FROM webhook_endpoints WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        url, "http://x.example",
        "the transaction's other write stays"
    );
    assert_eq!(fan_out_alone(&conn, BATCH, 2).unwrap().deliveries, 2);
}

/// A fan-out stops after the event that brings its deliveries to its limit, so that one for
/// events with many endpoints each stays short; the next goes on from there.
#[test]
fn a_fan_out_also_stops_at_its_limit_of_deliveries() {
    let conn = outbox();
    let events: Vec<i64> = (0..3)
        .map(|i| queue(&conn, &format!("msg_{i}"), &[1, 2, 3], i))
        .collect();
    let step = fan_out(&conn, 4, 5).unwrap();
    assert_eq!((step.events, step.deliveries, step.more), (2, 6, true));
    assert_eq!(mark(&conn), events[1]);
    let step = fan_out(&conn, 4, 5).unwrap();
    assert_eq!((step.events, step.deliveries, step.more), (1, 3, false));
    assert_eq!(made(&conn).len(), 9);
}

/// The deliveries still to make are counted for one account or one endpoint when asked.
#[test]
fn the_deliveries_still_to_make_are_counted_for_an_account_or_an_endpoint() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (78, 'b', 'pro', 'active', 0, 0); \
         INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, created_at, updated_at) \
           VALUES (4, 78, 'http://d.example', '[\"*\"]', 's', 1, 0, 0);",
    )
    .unwrap();
    queue(&conn, "msg_1", &[1, 2, 3], 0);
    queue(&conn, "msg_2", &[1], 0);
    queue(&conn, "msg_3", &[4], 0);
    assert_eq!(still_to_make(&conn, None, None).unwrap(), (4, 1));
    assert_eq!(
        still_to_make(&conn, Some(AccountId(77)), None).unwrap(),
        (3, 1)
    );
    assert_eq!(
        still_to_make(&conn, Some(AccountId(78)), None).unwrap(),
        (1, 0)
    );
    assert_eq!(
        still_to_make(&conn, None, Some(EndpointId(1))).unwrap(),
        (2, 0)
    );
    assert_eq!(
        still_to_make(&conn, None, Some(EndpointId(2))).unwrap(),
        (0, 1)
    );
}
