//! What is due and what a claim takes, and the index walks of next-due, claim, pause and prune.

use super::*;

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
