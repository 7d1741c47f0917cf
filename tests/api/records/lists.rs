//! Lists and reads: pages, list parameters, filters, and whose records a token sees.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::model::Role;

use super::{count_pages, names};
use crate::helpers::{ALL_SCOPES, eventually, spawn_app};

#[test]
fn pagination_visits_every_record_once() {
    let app = spawn_app();
    let t = app.admin_token();
    let records: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("lead {i}")}))
        .collect();
    assert_eq!(
        app.post("/api/v1/leads/batch", &t, &json!({"records": records}))
            .status,
        201
    );
    let ids = count_pages(&app, &t, "/api/v1/leads?limit=7");
    assert_eq!(ids.len(), 25);
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted, ids, "no record twice, in id order");
    let by_update = count_pages(
        &app,
        &t,
        "/api/v1/leads?limit=4&updated_since=2000-01-01T00:00:00Z",
    );
    assert_eq!(by_update.len(), 25);
}

#[test]
fn list_parameters_are_validated() {
    let app = spawn_app();
    let t = app.admin_token();
    let cases = [
        ("limit=0", 422, "validation_failed"),
        ("limit=201", 422, "validation_failed"),
        ("limit=ten", 422, "validation_failed"),
        ("status=maybe", 422, "validation_failed"),
        ("updated_since=yesterday", 422, "validation_failed"),
        ("cursor=garbage", 400, "invalid_cursor"),
        ("limit=200", 200, ""),
        ("status=won", 200, ""),
    ];
    for (q, status, code) in cases {
        let r = app.get(&format!("/api/v1/leads?{q}"), &t);
        assert_eq!(r.status, status, "{q}: {}", r.text);
        if !code.is_empty() {
            assert_eq!(r.code(), code, "{q}");
        }
    }
}

#[test]
fn filters_select_by_status_and_update_time() {
    let app = spawn_app();
    let t = app.admin_token();
    for status in ["new", "won", "won"] {
        app.post("/api/v1/leads", &t, &json!({"name": "x", "status": status}));
    }
    let won = app.get("/api/v1/leads?status=won", &t).json();
    assert_eq!(won["data"].as_array().unwrap().len(), 2);
    let later = app
        .get("/api/v1/leads?updated_since=2999-01-01T00:00:00Z", &t)
        .json();
    assert!(later["data"].as_array().unwrap().is_empty());
}

#[test]
fn a_filter_that_skips_many_rows_still_answers_whole_pages() {
    let app = spawn_app();
    let t = app.admin_token();
    let batch = |status: &str, n: usize| {
        let records: Vec<_> = (0..n)
            .map(|i| json!({"name": format!("l{i}"), "status": status}))
            .collect();
        let r = app.post("/api/v1/leads/batch", &t, &json!({ "records": records }));
        assert_eq!(r.status, 201, "{}", r.text);
    };
    batch("new", 500);
    batch("won", 3);
    // The first page skips 500 rows: more than a page may take on a server worker, so it
    // moves to the blocking pool and answers the same.
    let first = app.get("/api/v1/leads?status=won&limit=2", &t).json();
    assert_eq!(names(&first), [json!("l0"), json!("l1")]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/leads?status=won&limit=2&cursor={cursor}"),
            &t,
        )
        .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let metrics = app.send("GET", "/metrics", &[], None).text;
    let moved = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_db_inline_reads_moved_total "))
        .unwrap();
    assert!(moved.parse::<u64>().unwrap() >= 1, "{metrics}");
    // Unfiltered, the whole account pages through in id order, every record once.
    let ids = count_pages(&app, &t, "/api/v1/leads?limit=200");
    assert_eq!(ids.len(), 503);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn agents_see_only_their_own_records_and_admins_see_the_account() {
    let app = spawn_app();
    let admin = app.admin_token();
    app.add_user("agent1@example.com", Role::Agent);
    app.add_user("agent2@example.com", Role::Agent);
    let a1 = app.token_for("agent1@example.com", &ALL_SCOPES);
    let a2 = app.token_for("agent2@example.com", &ALL_SCOPES);
    let id = app
        .post("/api/v1/leads", &a1, &json!({"name": "mine"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/leads/{id}");
    assert_eq!(app.get(&path, &a1).status, 200);
    assert_eq!(app.get(&path, &a2).code(), "not_found");
    assert_eq!(
        app.patch(&path, &a2, &json!({"name": "theirs"})).code(),
        "not_found"
    );
    assert_eq!(app.delete(&path, &a2).code(), "not_found");
    assert!(
        app.get("/api/v1/leads", &a2).json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(app.get(&path, &admin).status, 200);
    // An agent cannot point at a record it cannot see.
    let r = app.post("/api/v1/jobs", &a2, &json!({"title": "t", "lead_id": id}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "lead_id");
}

#[test]
fn no_token_reaches_another_accounts_records() {
    let app = spawn_app();
    let t = app.admin_token();
    app.add_account_with_admin("other", "boss@other.example");
    let other = app.token_for("boss@other.example", &ALL_SCOPES);
    let id = app
        .post("/api/v1/invoices", &t, &json!({"total_cents": 100}))
        .json()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/invoices/{id}"), &other).code(),
        "not_found"
    );
    assert!(
        app.get("/api/v1/invoices", &other).json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let job = app.post(
        "/api/v1/invoices",
        &other,
        &json!({"total_cents": 1, "job_id": 1}),
    );
    assert_eq!(job.status, 422, "references stay inside the account");
}

/// The server files new records under their owners in the background (`store::filing`):
/// every one of them, soon; and an agent's pages, and an admin's, hold the same records in
/// the same order while they wait and after. (Which rows the first walk finds filed depends on the pass's
/// timing; the unit tests in `store::records` walk each state in turn.)
#[test]
fn an_agents_records_are_filed_under_them_and_listed_the_same_before_and_after() {
    let app = spawn_app();
    app.add_user("agent1@example.com", Role::Agent);
    app.add_user("agent2@example.com", Role::Agent);
    let a1 = app.token_for("agent1@example.com", &ALL_SCOPES);
    let a2 = app.token_for("agent2@example.com", &ALL_SCOPES);
    let (mut mine, mut all): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for round in 0..4 {
        for (token, owner) in [(&a1, "a1"), (&a2, "a2")] {
            let records: Vec<Value> = (0..5)
                .map(|i| json!({"name": format!("{owner} {round}.{i}")}))
                .collect();
            let r = app.post("/api/v1/leads/batch", token, &json!({"records": records}));
            assert_eq!(r.status, 201);
            let ids = r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>();
            if owner == "a1" {
                mine.extend(&ids);
            }
            all.extend(ids);
        }
    }
    assert_eq!(
        app.post("/api/v1/jobs", &a1, &json!({"title": "t"})).status,
        201
    );
    let admin = app.admin_token();
    let before = count_pages(&app, &a1, "/api/v1/leads?limit=3");
    assert_eq!(before, mine);
    assert_eq!(count_pages(&app, &admin, "/api/v1/leads?limit=3"), all);
    let unfiled = || {
        app.query(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM leads WHERE filed = 0) \
                      + (SELECT COUNT(*) FROM jobs WHERE filed = 0)",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
    };
    assert!(
        eventually(Duration::from_secs(10), || unfiled() == 0),
        "{} rows still unfiled",
        unfiled()
    );
    assert_eq!(count_pages(&app, &a1, "/api/v1/leads?limit=3"), mine);
    assert_eq!(count_pages(&app, &admin, "/api/v1/leads?limit=3"), all);
}
