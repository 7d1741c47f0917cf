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

#[test]
fn the_next_due_delivery_is_the_earliest_unleased_waiting_one_of_an_enabled_endpoint() {
    let conn = outbox();
    assert_eq!(next_due(&conn).unwrap(), None);
    add(&conn, 1, "delivered", 100, None);
    add(&conn, 2, "pending", 200, None); // its endpoint is disabled
    add(&conn, 1, "pending", 300, Some(10_000)); // leased: a sender has it
    assert_eq!(next_due(&conn).unwrap(), None);
    add(&conn, 1, "pending", 700, None);
    assert_eq!(next_due(&conn).unwrap(), Some(700));
    add(&conn, 1, "failed", 600, None);
    assert_eq!(next_due(&conn).unwrap(), Some(600));
    add(&conn, 1, "pending", 500, None);
    assert_eq!(next_due(&conn).unwrap(), Some(500));
}

/// The worker's question after a claim that left nothing due behind, and the prune, read
/// what they need, not every delivery.
#[test]
fn next_due_and_prune_walk_their_indexes() {
    let conn = outbox();
    let plan = |sql: &str, args: &[i64]| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = explain
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let due = plan(NEXT_DUE, &[]);
    assert!(
        due.contains("INDEX webhook_deliveries_unsent (endpoint_id=? AND status=?)"),
        "{due}"
    );
    // The claim, and pausing and resuming an endpoint, use the index that holds only
    // unsent deliveries (V10): none reads an endpoint's delivered ones. Each fails here if
    // its statement loses the index's condition.
    let claim = plan(&claim_sql(4), &[1, 0, 0]);
    assert!(
        claim.contains(
            "INDEX webhook_deliveries_unsent (endpoint_id=? AND status=? AND next_attempt_at<?)"
        ) && !claim.contains("TEMP B-TREE"),
        "{claim}"
    );
    for update in [PAUSE, RESUME] {
        let p = plan(update, &[1, 0]);
        assert!(
            p.contains("INDEX webhook_deliveries_unsent (endpoint_id=? AND status=?)"),
            "{update}: {p}"
        );
    }
    assert!(
        !due.contains("SCAN d") && !due.contains("TEMP B-TREE"),
        "{due}"
    );
    // Each write of the prune reads the run of ids before the cutoff (V12), not the whole
    // table; and an event's deliveries are found by index.
    let events = plan(PRUNE_EVENTS, &[0, 0, 0]);
    assert!(
        events.contains("INDEX webhook_deliveries_event"),
        "{events}"
    );
    for (sql, window, table) in [
        (
            PRUNE_DELIVERIES,
            window!("webhook_deliveries"),
            "webhook_deliveries",
        ),
        (PRUNE_EVENTS, window!("webhook_events"), "webhook_events"),
    ] {
        let p = plan(sql, &[0, 0, 0]);
        assert!(
            p.contains(&format!(
                "SEARCH {table} USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"
            )),
            "{p}"
        );
        let w = plan(window, &[0, 0, 0, 10]);
        assert!(
            w.contains(&format!(
                "SEARCH {table} USING INTEGER PRIMARY KEY (rowid>?)"
            )),
            "{w}"
        );
        assert!(!w.contains(&format!("SCAN {table}")), "{w}");
    }
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

/// The admission the worker had before endpoints' standing counted: `per_endpoint` at once
/// to every endpoint, counting `busy` (attempts in flight there).
struct PerEndpoint<'a> {
    per_endpoint: usize,
    busy: &'a std::collections::HashMap<EndpointId, usize>,
}

impl Admission for PerEndpoint<'_> {
    fn room(&mut self, endpoint: EndpointId, _failing: bool) -> usize {
        let busy = self.busy.get(&endpoint).copied().unwrap_or(0);
        self.per_endpoint.saturating_sub(busy)
    }

    fn admit(&mut self, _endpoint: EndpointId) -> bool {
        true
    }
}

#[test]
fn a_claim_says_when_a_limit_left_due_deliveries_behind() {
    let conn = outbox();
    let none = std::collections::HashMap::new();
    let claim_ids = |limit, per_endpoint, busy: &std::collections::HashMap<EndpointId, usize>| {
        let mut admission = PerEndpoint { per_endpoint, busy };
        let (taken, capped) = claim(&conn, 1_000, 9_000, limit, &mut admission).unwrap();
        (taken.iter().map(|c| c.id).collect::<Vec<_>>(), capped)
    };
    assert_eq!(claim_ids(8, 4, &none), (vec![], false), "nothing due");
    add(&conn, 1, "pending", 100, None); // 1
    add(&conn, 1, "failed", 200, None); // 2
    add(&conn, 1, "pending", 300, None); // 3
    add(&conn, 1, "pending", 5_000, None); // 4: not due yet
    add(&conn, 2, "pending", 100, None); // 5: its endpoint is disabled
    // Two of three due, then every sender busy: more are waiting.
    assert_eq!(claim_ids(2, 4, &none), (vec![1, 2], true));
    // The rest fit: nothing due is left.
    assert_eq!(claim_ids(8, 4, &none), (vec![3], false));
    conn.execute("UPDATE webhook_deliveries SET lease_until = NULL", [])
        .unwrap();
    // The endpoint's own limit.
    assert_eq!(claim_ids(8, 2, &none), (vec![1, 2], true));
    conn.execute("UPDATE webhook_deliveries SET lease_until = NULL", [])
        .unwrap();
    let busy = std::collections::HashMap::from([(EndpointId(1), 2)]);
    assert_eq!(claim_ids(8, 2, &busy), (vec![], true));
    assert_eq!(claim_ids(8, 5, &busy), (vec![1, 2, 3], false));
}

/// The admission is asked about each enabled endpoint once, with whether it is failing, and
/// about its due deliveries in the order they fell due, across endpoints; one it refuses is
/// left for a later claim, and the claim says so.
#[test]
fn a_claim_takes_what_the_admission_admits_in_the_order_deliveries_fell_due() {
    struct Script {
        asked: Vec<(EndpointId, bool)>,
        admitted: Vec<EndpointId>,
        refuse: EndpointId,
    }
    impl Admission for Script {
        fn room(&mut self, endpoint: EndpointId, failing: bool) -> usize {
            self.asked.push((endpoint, failing));
            4
        }
        fn admit(&mut self, endpoint: EndpointId) -> bool {
            self.admitted.push(endpoint);
            endpoint != self.refuse
        }
    }
    let conn = outbox();
    conn.execute_batch(
        "INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, \
           failing_since, created_at, updated_at) \
           VALUES (3, 77, 'http://c.example', '[\"*\"]', 's', 1, 50, 0, 0);",
    )
    .unwrap();
    add(&conn, 3, "failed", 100, None); // 1
    add(&conn, 1, "pending", 200, None); // 2
    add(&conn, 3, "pending", 300, None); // 3
    add(&conn, 1, "pending", 400, None); // 4
    let mut script = Script {
        asked: Vec::new(),
        admitted: Vec::new(),
        refuse: EndpointId(3),
    };
    let (taken, capped) = claim(&conn, 1_000, 9_000, 8, &mut script).unwrap();
    script.asked.sort();
    assert_eq!(
        script.asked,
        [(EndpointId(1), false), (EndpointId(3), true)],
        "enabled endpoints only"
    );
    let order = [3, 1, 3, 1].map(EndpointId);
    assert_eq!(script.admitted, order);
    assert_eq!(taken.iter().map(|c| c.id).collect::<Vec<_>>(), [2, 4]);
    assert!(capped, "endpoint 3's deliveries wait");
}

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
