use rusqlite::{Connection, params};

use super::*;

const DAY_MS: i64 = 86_400_000;

/// A store with two endpoints of account 1, and, created `age` ago: 30 events of one
/// delivery to each endpoint (delivered, but event 7's second one failed, retrying, and event
/// 12's second one dead after three attempts), then 5 recent events delivered to endpoint 1;
/// and idempotency answers of 2 days and of an hour ago. The deliveries are written here, so
/// every event, up to id 2 * 10^6, counts as fanned out (`store::fanout`).
fn outbox(age: i64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db"), 1, None).unwrap();
    let now = clock::now_ms();
    store
        .writer()
        .write_blocking(move |c| -> Result<(), StoreError> {
            c.execute_batch(
                "INSERT INTO webhook_endpoints (id, account_id, url, events, secret, enabled, \
                   created_at, updated_at) \
                 VALUES (1, 1, 'http://a.example', '[\"*\"]', 's', 1, 0, 0), \
                        (2, 1, 'http://b.example', '[\"*\"]', 's', 1, 0, 0);",
            )?;
            for event in 1..=35 {
                let at = if event <= 30 { now - age } else { now };
                c.execute(
                    "INSERT INTO webhook_events (id, account_id, msg_id, type, payload, \
                       created_at) VALUES (?1, 1, 'msg_' || ?1, 'lead.created', '{}', ?2)",
                    params![event, at],
                )?;
                for endpoint in [1, 2] {
                    let status = match (event, endpoint) {
                        (7, 2) => "failed",
                        (12, 2) => "dead",
                        (31.., 2) => continue,
                        _ => "delivered",
                    };
                    c.execute(
                        "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, \
                           next_attempt_at, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
                        params![event, endpoint, status, at],
                    )?;
                    let delivery = c.last_insert_rowid();
                    let attempts = if status == "dead" { 3 } else { 1 };
                    for _ in 0..attempts {
                        c.execute(
                            "INSERT INTO webhook_attempts (delivery_id, attempted_at, status, \
                               latency_ms) VALUES (?1, ?2, 500, 1)",
                            [delivery, at],
                        )?;
                    }
                }
            }
            c.execute("UPDATE webhook_fanout SET upto = 2000000", [])?;
            for (key, at) in [("old", now - 2 * DAY_MS), ("new", now - 3_600_000)] {
                c.execute(
                    "INSERT INTO idempotency_keys (account_id, key, request_hash, status, \
                       headers, body, created_at) VALUES (1, ?1, x'00', 201, '{}', x'', ?2)",
                    params![key, at],
                )?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn ids(conn: &Connection, sql: &str) -> Vec<i64> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// A whole pass, 4 rows a write, as the thread runs one: what it did.
fn whole_pass(store: &Store) -> Pruned {
    let mut pruned = Pruned::default();
    let ended = pass(store, RETENTION, 4, &Stop::default(), &mut pruned);
    assert!(matches!(ended, Ended::Done), "{ended:?}");
    pruned
}

#[test]
fn a_pass_in_windows_deletes_old_finished_rows_and_nothing_still_to_send() {
    let (dir, store) = outbox(40 * DAY_MS);
    let conn = Connection::open(dir.path().join("p.db")).unwrap();
    let pruned = whole_pass(&store);
    // The old deliveries but the failed one, which is still retried, with their attempts;
    // the old events but its; the old answer. 4 rows a write: 15 writes of old deliveries
    // and one that meets the first new one, 7 and 1 for the events, 1 for the answers.
    assert_eq!(
        pruned,
        Pruned {
            deliveries: 59,
            events: 29,
            keys: 1,
            writes: 25
        }
    );
    assert_eq!(
        ids(&conn, "SELECT event_id FROM webhook_deliveries ORDER BY id"),
        [7, 31, 32, 33, 34, 35]
    );
    assert_eq!(
        ids(&conn, "SELECT id FROM webhook_events ORDER BY id"),
        [7, 31, 32, 33, 34, 35]
    );
    assert_eq!(
        ids(&conn, "SELECT count(*) FROM webhook_attempts"),
        [6],
        "the attempts of the deliveries left"
    );
    assert_eq!(ids(&conn, "SELECT count(*) FROM idempotency_keys"), [1]);

    // Its last retry succeeds long ago (as far as the clock goes): the next pass takes the
    // delivery and then its event, in one pass.
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', updated_at = 0 WHERE event_id = 7",
        [],
    )
    .unwrap();
    let pruned = whole_pass(&store);
    assert_eq!((pruned.deliveries, pruned.events, pruned.keys), (1, 1, 0));
    assert_eq!(
        ids(&conn, "SELECT id FROM webhook_events ORDER BY id"),
        [31, 32, 33, 34, 35]
    );
}

#[test]
fn a_pass_stops_between_writes_when_the_server_stops() {
    let (dir, store) = outbox(40 * DAY_MS);
    let stop = Stop::default();
    stop.stop();
    let mut pruned = Pruned::default();
    assert!(matches!(
        pass(&store, RETENTION, 4, &stop, &mut pruned),
        Ended::Stopped
    ));
    assert_eq!(pruned, Pruned::default());
    let conn = Connection::open(dir.path().join("p.db")).unwrap();
    assert_eq!(ids(&conn, "SELECT count(*) FROM webhook_deliveries"), [65]);
}

#[test]
fn recent_rows_stay_and_a_pass_walks_each_row_once() {
    let (dir, store) = outbox(DAY_MS);
    let pruned = whole_pass(&store);
    // One write each: the first rows are new.
    assert_eq!(
        pruned,
        Pruned {
            keys: 1,
            writes: 3,
            ..Pruned::default()
        }
    );
    let conn = Connection::open(dir.path().join("p.db")).unwrap();
    assert_eq!(ids(&conn, "SELECT count(*) FROM webhook_deliveries"), [65]);
}

/// A delivery kept (still retried) with a low id, then a million ids later the old rows of
/// a busy month: the pass walks the rows, not the ids between them.
#[test]
fn a_kept_row_and_a_gap_in_the_ids_cost_no_writes() {
    let (dir, store) = outbox(40 * DAY_MS);
    let conn = Connection::open(dir.path().join("p.db")).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; \
         UPDATE webhook_attempts SET delivery_id = delivery_id + 1000000 WHERE delivery_id > 20; \
         UPDATE webhook_deliveries SET id = id + 1000000 WHERE id > 20; \
         UPDATE webhook_deliveries SET event_id = event_id + 1000000 WHERE event_id > 10; \
         UPDATE webhook_events SET id = id + 1000000 WHERE id > 10;",
    )
    .unwrap();
    let pruned = whole_pass(&store);
    assert_eq!((pruned.deliveries, pruned.events), (59, 29));
    assert_eq!(pruned.writes, 25, "as many as without the gap");
    assert_eq!(
        ids(
            &conn,
            "SELECT id FROM webhook_deliveries WHERE status = 'failed'"
        ),
        [14],
        "the row kept"
    );
}
