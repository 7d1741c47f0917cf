//! Old databases migrate with their data; newer ones are refused untouched.

use super::*;

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    assert!(run(&db, &["migrate"]).status.success());
    Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', '', '0')",
            [],
        )
        .unwrap();
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let out = run(&db, args);
        assert!(!out.status.success(), "{args:?}");
        let said = stderr(&out);
        assert_eq!(
            said.matches("schema version 999, newer than this binary knows")
                .count(),
            1,
            "{args:?}: said once: {said}"
        );
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
    }
}

#[test]
fn a_database_made_by_the_first_schema_version_migrates_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let mut c = store::open_connection(&db).unwrap();
    store::migrate_to(&mut c, 1).unwrap();
    c.execute_batch(
        "INSERT INTO users (account_id, email, role, permissions, created_at, updated_at)
             VALUES (1, 'old@example.com', 'admin', 255, 0, 0);
         INSERT INTO leads (account_id, owner_id, name, status, created_at, updated_at)
             VALUES (1, 1, 'From V1', 'won', 1000, 1000);",
    )
    .unwrap();
    drop(c);
    let out = run(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = Connection::open(&db).unwrap();
    let version: i64 = c
        .query_row(
            "SELECT MAX(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, *store::SCHEMA_VERSION);
    let name: String = c
        .query_row("SELECT name FROM leads WHERE status = 'won'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "From V1");
    assert_eq!(count(&db, "users"), 1);
}

/// V8 copies the delivery table (see the migration): every delivery keeps its row and its
/// attempts, the attempts still cascade with it, and the CHECK still refuses a bad status.
#[test]
fn the_delivery_table_rebuild_keeps_every_delivery_and_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v7.db");
    let mut c = store::open_connection(&db).unwrap();
    store::migrate_to(&mut c, 7).unwrap();
    let fk_on: bool = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(
        fk_on,
        "migrating puts foreign keys back on for its connection"
    );
    c.execute_batch(
        "INSERT INTO webhook_endpoints (id, account_id, url, events, secret, created_at, updated_at)
             VALUES (1, 1, 'https://a.example/hook', '[\"*\"]', 'whsec_x', 0, 0),
                    (2, 1, 'https://b.example/hook', '[\"*\"]', 'whsec_y', 0, 0);
         INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at)
             VALUES (1, 1, 'msg_1', 'lead.created', '{}', 10),
                    (2, 1, 'msg_2', 'lead.updated', '{}', 20);
         INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at,
                 lease_until, last_status, last_error, last_response, last_latency_ms,
                 created_at, updated_at, attempt_base)
             VALUES (1, 1, 1, 'delivered', 1, 10, NULL, 200, NULL, 'ok', 12, 10, 11, 0),
                    (2, 1, 2, 'failed', 3, 99, 50, 500, 'HTTP 500', 'no', 30, 10, 40, 1),
                    (3, 2, 1, 'pending', 0, 20, NULL, NULL, NULL, NULL, NULL, 20, 20, 0),
                    (4, 2, 2, 'paused', 0, 20, NULL, NULL, NULL, NULL, NULL, 20, 20, 0);
         INSERT INTO webhook_attempts (delivery_id, attempted_at, status, error, latency_ms)
             VALUES (1, 11, 200, NULL, 12), (2, 12, 500, 'HTTP 500', 30),
                    (2, 40, 500, 'HTTP 500', 30);",
    )
    .unwrap();
    let before = table_rows(&c, "webhook_deliveries");
    drop(c);

    let out = run(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let c = store::open_connection(&db).unwrap();
    assert_eq!(table_rows(&c, "webhook_deliveries"), before);
    assert_eq!(count(&db, "webhook_attempts"), 3);
    assert_eq!(foreign_key_problems(&c), 0);
    let due_index: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'webhook_deliveries_due'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(due_index, 0);
    let bad = c.execute(
        "UPDATE webhook_deliveries SET status = 'lost' WHERE id = 3",
        [],
    );
    assert!(
        format!("{:?}", bad.unwrap_err()).contains("CHECK constraint failed"),
        "a status outside the five is refused"
    );
    for status in ["pending", "delivered", "failed", "dead", "paused"] {
        c.execute(
            "UPDATE webhook_deliveries SET status = ?1 WHERE id = 3",
            [status],
        )
        .unwrap();
    }

    // An endpoint's deletion still takes its deliveries, and theirs their attempts.
    c.execute("DELETE FROM webhook_endpoints WHERE id = 2", [])
        .unwrap();
    assert_eq!(count(&db, "webhook_deliveries"), 2);
    assert_eq!(count(&db, "webhook_attempts"), 1);
}

/// V18 copies the event table without its message-id index: every event keeps its row, its
/// deliveries keep theirs and still go with it, and no index of the table is left.
#[test]
fn the_event_table_rebuild_keeps_every_event_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v17.db");
    let mut c = store::open_connection(&db).unwrap();
    store::migrate_to(&mut c, 17).unwrap();
    c.execute_batch(
        "INSERT INTO webhook_endpoints (id, account_id, url, events, secret, created_at, updated_at)
             VALUES (1, 1, 'https://a.example/hook', '[\"*\"]', 'whsec_x', 0, 0);
         INSERT INTO webhook_events (id, account_id, msg_id, type, payload, created_at, endpoint_ids)
             VALUES (1, 1, 'msg_1', 'lead.created', '{\"a\":1}', 10, '[1]'),
                    (2, 1, 'msg_2', 'lead.updated', '{}', 20, NULL),
                    (7, 1, 'msg_7', 'job.deleted', '{\"b\":\"x\"}', 30, '[1]');
         INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at,
                 created_at, updated_at)
             VALUES (1, 1, 1, 'delivered', 10, 10, 11), (2, 2, 1, 'pending', 20, 20, 20),
                    (3, 7, 1, 'failed', 99, 30, 40);
         INSERT INTO webhook_attempts (delivery_id, attempted_at, status, error, latency_ms)
             VALUES (1, 11, 200, NULL, 12), (3, 40, 500, 'HTTP 500', 30);",
    )
    .unwrap();
    let before = table_rows(&c, "webhook_events");
    assert_eq!(before.len(), 3);
    drop(c);

    let out = run(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let c = store::open_connection(&db).unwrap();
    assert_eq!(table_rows(&c, "webhook_events"), before);
    assert_eq!(count(&db, "webhook_deliveries"), 3);
    assert_eq!(count(&db, "webhook_attempts"), 2);
    assert_eq!(foreign_key_problems(&c), 0);
    let indexes: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'webhook_events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);

    // An event's deletion still takes its deliveries, and theirs their attempts.
    c.execute("DELETE FROM webhook_events WHERE id = 7", [])
        .unwrap();
    assert_eq!(count(&db, "webhook_deliveries"), 2);
    assert_eq!(count(&db, "webhook_attempts"), 1);
}

/// V11 files every record stored before it under its owner: an agent's records stay in the
/// owner index, and none waits in the index of unfiled ones.
#[test]
fn records_stored_before_v11_stay_filed_under_their_owners() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v10.db");
    let mut c = store::open_connection(&db).unwrap();
    store::migrate_to(&mut c, 10).unwrap();
    c.execute_batch(
        "INSERT INTO users (id, account_id, email, role, permissions, created_at, updated_at)
             VALUES (5, 1, 'agent@example.com', 'agent', 255, 0, 0);
         INSERT INTO leads (account_id, owner_id, name, status, created_at, updated_at)
             VALUES (1, 5, 'one', 'new', 0, 0), (1, 5, 'two', 'new', 0, 0);
         INSERT INTO jobs (account_id, owner_id, title, status, created_at, updated_at)
             VALUES (1, 5, 'job', 'scheduled', 0, 0);",
    )
    .unwrap();
    drop(c);
    let out = run(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = Connection::open(&db).unwrap();
    for (table, rows) in [
        ("leads", 2),
        ("jobs", 1),
        ("invoices", 0),
        ("appointments", 0),
    ] {
        let filed: i64 = c
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM {table} INDEXED BY {table}_owner \
                     WHERE account_id = 1 AND owner_id = 5 AND filed = 1"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(filed, rows, "{table}");
        let unfiled: i64 = c
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} INDEXED BY {table}_unfiled WHERE filed = 0"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unfiled, 0, "{table}");
        let owner_index: String = c
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = ?1",
                [format!("{table}_owner")],
                |r| r.get(0),
            )
            .unwrap();
        assert!(owner_index.ends_with("WHERE filed = 1"), "{owner_index}");
    }
}

/// `migrate --json` prints one document: the schema version and the migrations this run
/// applied (all of them on a new file, the missing ones on an old file, none after).
#[test]
fn migrate_json_names_the_migrations_this_run_applied() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = |db: &Path| {
        let out = run(db, &["migrate", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["schema_version"], *store::SCHEMA_VERSION);
        assert_eq!(v["db"], db.display().to_string());
        v["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["version"].as_i64().unwrap(),
                    m["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let fresh = dir.path().join("fresh.db");
    let all = migrate(&fresh);
    assert_eq!(all.len() as i64, *store::SCHEMA_VERSION);
    assert_eq!(all[0], (1, "init".to_owned()));
    assert_eq!(migrate(&fresh), [], "nothing left to apply");
    let old = dir.path().join("old.db");
    let mut c = store::open_connection(&old).unwrap();
    let before = i32::try_from(*store::SCHEMA_VERSION - 2).unwrap();
    store::migrate_to(&mut c, before).unwrap();
    drop(c);
    assert_eq!(migrate(&old), all[all.len() - 2..]);
}

/// Another application's SQLite file (tables, no Switchboard migration history) is refused
/// by `migrate` and `serve` and left as it was; an empty file is a new database.
#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO customers (name) VALUES ('Ada');",
        )
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    for args in [
        &["migrate"][..],
        &["serve", "--listen", "127.0.0.1:0"],
        &["account", "list"],
    ] {
        let out = run(&db, args);
        assert!(!out.status.success(), "{args:?}");
        let said = stderr(&out);
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
        assert!(
            said.contains(&db.display().to_string()) && said.contains("not a Switchboard database"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is untouched");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let out = run(&empty, &["migrate"]);
    assert!(
        out.status.success(),
        "an empty file is fine: {}",
        stderr(&out)
    );
}

/// Every row of `table` in id order, each as its columns' values: a table's copy keeps them.
fn table_rows(c: &Connection, table: &str) -> Vec<String> {
    let mut s = c
        .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
        .unwrap();
    let n = s.column_count();
    s.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join("|"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The rows whose foreign keys point nowhere.
fn foreign_key_problems(c: &Connection) -> i64 {
    c.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })
    .unwrap()
}
