//! Disk trouble: a clear message and exit at start, or 503 problem+json while running, and
//! never corruption.

use std::process::Command;

use serde_json::json;

use crate::helpers::spawn_app_with;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn serve_fails(db: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve must refuse to start");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains(&db.display().to_string()),
        "the message names the file: {stderr}"
    );
    stderr
}

#[test]
fn a_missing_directory_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = serve_fails(&dir.path().join("no/such/dir/switchboard.db"));
    // SQLite says only "unable to open database file"; the message says which directory.
    let missing = dir.path().join("no/such/dir");
    assert!(
        stderr.contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_database_stops_start_up_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("garbage.db");
    let garbage = b"this is a spreadsheet, not a database".repeat(200);
    std::fs::write(&db, &garbage).unwrap();
    let stderr = serve_fails(&db);
    assert!(stderr.contains("not a database"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        garbage,
        "the file was not changed"
    );
}

#[test]
fn a_full_database_refuses_writes_with_503_keeps_serving_reads_and_stays_intact() {
    let app = spawn_app_with(|s| s.max_db_size = Some(1 << 20));
    let t = app.admin_token();
    let kept = app.post(
        "/api/v1/leads",
        &t,
        &json!({"name": "before the disk filled"}),
    );
    assert_eq!(kept.status, 201);
    let notes = "n".repeat(10_000);
    let mut refused = None;
    for _ in 0..40 {
        let batch: Vec<_> = (0..50)
            .map(|_| json!({"name": "filler", "notes": notes}))
            .collect();
        let r = app.post("/api/v1/leads/batch", &t, &json!({"records": batch}));
        if r.status != 201 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("the cap was reached");
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.header("retry-after").is_some());
    let id = kept.json()["id"].clone();
    assert_eq!(
        app.get(&format!("/api/v1/leads/{id}"), &t).status,
        200,
        "reads still work"
    );
    let ok: String = app.query(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)));
    assert_eq!(ok, "ok");
}

#[test]
fn a_database_locked_by_another_process_answers_503_then_recovers() {
    let app = spawn_app_with(|_| {});
    let t = app.admin_token();
    let blocker = switchboard::store::open_connection(&app.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = app.post("/api/v1/leads", &t, &json!({"name": "waits for the lock"}));
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["code"], "service_unavailable");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        app.post("/api/v1/leads", &t, &json!({"name": "after"}))
            .status,
        201
    );
}
