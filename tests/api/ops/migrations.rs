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
        assert!(
            stderr(&out).contains("schema version 999, newer than this binary knows"),
            "{args:?}: {}",
            stderr(&out)
        );
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
