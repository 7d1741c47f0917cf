//! Backups of a live database, scheduled backups, restores and the server lock.

use super::*;

#[test]
fn a_backup_of_a_live_database_holds_every_write_acknowledged_before_it() {
    let app = spawn_app();
    let token = app.admin_token();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, address, token) = (stop.clone(), app.address.clone(), token.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 5_000 {
                let r = agent
                    .post(&format!("{address}/api/v1/leads"))
                    .header("authorization", &format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .send(br#"{"name":"load"}"#.as_slice())
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                n += 1;
            }
            n
        })
    };
    assert!(eventually(Duration::from_secs(10), || count(
        &app.db_path,
        "leads"
    ) >= 20));
    let before = count(&app.db_path, "leads");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = run(
        &app.db_path,
        &["backup", "--to", copy.to_str().unwrap(), "--json"],
    );
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], json!(*store::SCHEMA_VERSION));
    let in_copy = count(&copy, "leads");
    assert!(
        in_copy >= before && in_copy <= written,
        "copy {in_copy}, before {before}, written {written}"
    );
    let again = run(&app.db_path, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(count(&copy, "leads"), in_copy);
}

#[test]
fn restore_is_refused_under_a_running_server_and_replaces_the_database_after() {
    let app = spawn_app();
    let token = app.admin_token();
    app.post("/api/v1/leads", &token, &json!({"name": "kept"}));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("b.db");
    assert!(
        run(&app.db_path, &["backup", "--to", copy.to_str().unwrap()])
            .status
            .success()
    );
    app.post(
        "/api/v1/leads",
        &token,
        &json!({"name": "after the backup"}),
    );

    let refused = run(&app.db_path, &["restore", "--from", copy.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("server is using"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(count(&app.db_path, "leads"), 2, "nothing changed");

    let mut app = app;
    app.stop_server();
    let out = run(
        &app.db_path,
        &["restore", "--from", copy.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = report["previous_saved_as"].as_str().unwrap();
    assert_eq!(count(&app.db_path, "leads"), 1, "the backup's state");
    assert_eq!(
        count(Path::new(kept), "leads"),
        2,
        "the replaced file is kept"
    );
    let name: String = Connection::open(&app.db_path)
        .unwrap()
        .query_row("SELECT name FROM leads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "kept");
    assert!(run(&app.db_path, &["migrate"]).status.success());
}

#[test]
fn restore_refuses_backups_it_cannot_use_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    assert!(run(&db, &["migrate"]).status.success());
    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"SQLite format 3\0 but then nonsense ".repeat(200),
    )
    .unwrap();
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    let newer = dir.path().join("newer.db");
    let c = Connection::open(&db).unwrap();
    store::ops::vacuum_into(&c, &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', '', '0')",
            [],
        )
        .unwrap();
    // A history another build wrote: its last migration is not this binary's.
    let divergent = dir.path().join("divergent.db");
    store::ops::vacuum_into(&c, &divergent).unwrap();
    Connection::open(&divergent)
        .unwrap()
        .execute(
            "UPDATE refinery_schema_history SET checksum = '1' \
               WHERE version = (SELECT max(version) FROM refinery_schema_history)",
            [],
        )
        .unwrap();
    // A backup one of this binary's migrations fails on: an older schema, with a table of
    // the name a later migration creates.
    let clashing = dir.path().join("clashing.db");
    at_schema_v13(&clashing)
        .execute_batch("CREATE TABLE id_floors (x);")
        .unwrap();
    // The live database changes after the copies were made: a restore would lose the change.
    c.execute_batch(
        "INSERT INTO accounts (name, plan, status, created_at, updated_at) \
           VALUES ('after the copies', 'pro', 'active', 0, 0);",
    )
    .unwrap();
    let cases = [
        (&garbage, "not a readable SQLite database", "damaged"),
        (&foreign, "not a Switchboard database", "foreign"),
        (&newer, "newer than this binary", "too new"),
        (&dir.path().join("absent.db"), "no backup file", "absent"),
        (
            &divergent,
            "cannot be brought up to this binary's schema",
            "divergent",
        ),
        (
            &clashing,
            "cannot be brought up to this binary's schema",
            "clashing",
        ),
    ];
    for (file, message, why) in cases {
        let out = run(&db, &["restore", "--from", file.to_str().unwrap()]);
        assert!(!out.status.success(), "{why}");
        assert!(stderr(&out).contains(message), "{why}: {}", stderr(&out));
        assert_eq!(stderr(&out).trim().lines().count(), 1, "one line");
    }
    assert_eq!(count(&db, "accounts"), 2, "the database is untouched");
    let left = names_containing(dir.path(), "restor");
    assert!(
        left.is_empty(),
        "no copy left behind, none set aside: {left:?}"
    );
    assert!(
        run(&db, &["migrate"]).status.success(),
        "and it still opens"
    );
}

/// A backup an older release made is brought up to this binary's schema as it is restored,
/// rows and all, and nothing of the copy is left beside the database.
#[test]
fn a_backup_of_an_older_schema_is_migrated_as_it_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    assert!(run(&db, &["migrate"]).status.success());
    let old = dir.path().join("v13.db");
    let c = at_schema_v13(&old);
    c.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (5, 'Old Plumbing', 'pro', 'active', 0, 0);",
    )
    .unwrap();
    drop(c);
    let out = run(&db, &["restore", "--from", old.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backup_schema_version"], json!(13));
    let c = Connection::open(&db).unwrap();
    let (version, name): (i64, String) = c
        .query_row(
            "SELECT (SELECT max(version) FROM refinery_schema_history), \
               (SELECT name FROM accounts WHERE id = 5)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, *store::SCHEMA_VERSION);
    assert_eq!(name, "Old Plumbing");
    let left = names_containing(dir.path(), ".restoring");
    assert!(
        left.is_empty(),
        "the copy and its journal are gone: {left:?}"
    );
}

/// A new database file at `path` as release V13 left it.
fn at_schema_v13(path: &Path) -> Connection {
    let mut c = Connection::open(path).unwrap();
    store::migrate_to(&mut c, 13).unwrap();
    c
}

/// The names of the files in `dir` that contain `part`.
fn names_containing(dir: &Path, part: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(part))
        .collect()
}

#[test]
fn a_file_that_is_not_a_switchboard_database_is_not_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("other.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
        .unwrap();
    let to = dir.path().join("copy.db");
    let e = switchboard::ops::backup::backup_file(&foreign, &to).unwrap_err();
    assert!(e.to_string().contains("not a Switchboard database"), "{e}");
    assert!(!to.exists());
    assert!(
        names_containing(dir.path(), "copy").is_empty(),
        "no partial copy left"
    );
}

#[test]
fn a_second_server_on_the_same_database_is_refused() {
    let app = spawn_app();
    let out = run(&app.db_path, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("server is using"), "{}", stderr(&out));
}

#[test]
fn scheduled_backups_start_when_one_is_due_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for stamp in ["20000101T000000Z", "20000102T000000Z", "20000103T000000Z"] {
        let f = std::fs::File::create(backups.join(format!("switchboard-{stamp}.db"))).unwrap();
        f.set_modified(two_days_ago).unwrap();
    }
    std::fs::write(backups.join("notes.txt"), "not ours").unwrap();
    let schedule = Schedule {
        dir: backups.clone(),
        every: Duration::from_secs(86_400),
        keep: 2,
    };
    let app = spawn_app_with(move |s| s.backup = Some(schedule));
    let ok = eventually(Duration::from_secs(20), || {
        app.send("GET", "/metrics", &[], None)
            .text
            .contains(r#"switchboard_backups_total{outcome="ok"} 1"#)
    });
    assert!(ok, "a backup was due at start");
    let files = switchboard::ops::backup::list_backups(&backups);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("switchboard-20000103T000000Z.db"));
    assert_eq!(
        count(&files[1], "accounts"),
        1,
        "the new copy is a database"
    );
    assert!(
        backups.join("notes.txt").exists(),
        "other files are left alone"
    );
}
