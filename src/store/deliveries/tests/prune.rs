//! The prune: old finished rows and their events go, in walks of ids; new and unsent rows stay.

use super::*;

/// A prune pass as `webhooks::prune` runs it, two rows a write; returns the deliveries
/// removed.
fn prune(conn: &Connection, before: i64, now: i64) -> usize {
    let walk = |step: &dyn Fn(i64) -> PruneStep| {
        let (mut from, mut deleted) = (Some(i64::MIN), 0);
        while let Some(at) = from {
            let done = step(at);
            deleted += done.deleted;
            from = done.next;
        }
        deleted
    };
    let gone = walk(&|from| prune_deliveries(conn, before, now, from, 2).unwrap());
    walk(&|from| prune_events(conn, before, now, from, 2).unwrap());
    gone
}

/// Old finished deliveries go, then the events left without any; what is recent or still
/// to be sent stays, and so do rows stamped earlier than a row before them (a clock set
/// back) until that row goes.
#[test]
fn the_prune_removes_old_finished_rows_and_their_events_and_nothing_else() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at) \
           VALUES (2, 77, 'msg_2', 'lead.created', '{}', 200), \
                  (3, 77, 'msg_3', 'lead.created', '{}', 900), \
                  (4, 77, 'msg_4', 'lead.created', '{}', 100); \
         INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, \
           created_at, updated_at) VALUES \
           (1, 1, 1, 'delivered', 0, 0, 150), \
           (2, 1, 2, 'paused', 0, 0, 300), \
           (3, 2, 1, 'pending', 0, 200, 200), \
           (4, 3, 1, 'delivered', 0, 900, 950), \
           (5, 4, 1, 'dead', 0, 100, 150);",
    )
    .unwrap();
    assert_eq!(prune(&conn, 500, 2_000), 2);
    assert_eq!(ids(&conn, "webhook_deliveries"), vec![3, 4, 5]);
    assert_eq!(ids(&conn, "webhook_events"), vec![2, 3, 4]);
    // Delivery 3 is sent at last; nothing created before the cutoff is left in the way.
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', updated_at = 400 WHERE id = 3",
        [],
    )
    .unwrap();
    assert_eq!(prune(&conn, 1_000, 2_000), 3);
    assert!(ids(&conn, "webhook_deliveries").is_empty());
    assert!(ids(&conn, "webhook_events").is_empty());
}

/// Each write walks the next rows from where the last one ended, up to the first row
/// created after the cutoff, and says where the next one starts; a gap in the ids costs
/// nothing.
#[test]
fn a_prune_walks_the_next_rows_a_write_up_to_the_first_new_one() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, \
           created_at, updated_at) VALUES \
           (1, 1, 1, 'failed', 0, 10, 10), \
           (2, 1, 1, 'delivered', 0, 10, 10), \
           (1000000, 1, 1, 'delivered', 0, 20, 20), \
           (1000001, 1, 1, 'delivered', 0, 20, 20), \
           (1000002, 1, 1, 'delivered', 0, 5000, 5000), \
           (1000003, 1, 1, 'delivered', 0, 600, 600), \
           (1000004, 1, 1, 'delivered', 0, 30, 30);",
    )
    .unwrap();
    let step = |from| prune_deliveries(&conn, 100, 1_000, from, 2).unwrap();
    // Rows 1 and 2: the failed one stays.
    assert_eq!(
        step(i64::MIN),
        PruneStep {
            deleted: 1,
            next: Some(3)
        }
    );
    // Past the gap, in one write.
    assert_eq!(
        step(3),
        PruneStep {
            deleted: 2,
            next: Some(1_000_002)
        }
    );
    // Row 1,000,002 was stamped in the future; 1,000,003 ends the run.
    assert_eq!(
        step(1_000_002),
        PruneStep {
            deleted: 0,
            next: None
        }
    );
    assert_eq!(
        ids(&conn, "webhook_deliveries"),
        [1, 1_000_002, 1_000_003, 1_000_004]
    );
    // A window past the last row: done at once.
    assert_eq!(
        prune_events(&conn, 0, 1_000, 2, 10).unwrap(),
        PruneStep {
            deleted: 0,
            next: None
        }
    );
}

/// A row stamped in the future (a clock set ahead, then corrected) holds back no row after
/// it, and is kept itself; a delivery still retrying is kept however old.
#[test]
fn a_row_stamped_in_the_future_does_not_stop_the_prune() {
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, \
           created_at, updated_at) VALUES \
           (1, 1, 1, 'delivered', 0, 0, 100), \
           (2, 1, 1, 'delivered', 0, 99999, 99999), \
           (3, 1, 1, 'delivered', 0, 200, 250), \
           (4, 1, 1, 'failed', 0, 100, 150);",
    )
    .unwrap();
    assert_eq!(prune(&conn, 500, 1_000), 2);
    assert_eq!(ids(&conn, "webhook_deliveries"), [2, 4]);
}
