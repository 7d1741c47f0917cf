//! Writes: deletes that clear references, reads that see each write, batches, concurrent writes.

use std::time::Duration;

use serde_json::{Value, json};

use super::names;
use crate::helpers::{eventually, spawn_app};

#[test]
fn deleting_a_record_clears_the_references_to_it_as_updates_a_sync_and_webhooks_see() {
    let app = spawn_app();
    let t = app.admin_token();
    let rx = crate::receiver::Receiver::ok();
    app.manage(|c| switchboard::manage::webhooks::add(c, "default", &rx.url, &["*".into()], None));
    let id = |r: crate::helpers::Reply| r.json()["id"].as_i64().unwrap();
    let lead = id(app.post("/api/v1/leads", &t, &json!({"name": "Gone soon"})));
    let other_lead = id(app.post("/api/v1/leads", &t, &json!({"name": "Stays"})));
    let job = id(app.post("/api/v1/jobs", &t, &json!({"title": "A", "lead_id": lead})));
    let kept_job = id(app.post(
        "/api/v1/jobs",
        &t,
        &json!({"title": "B", "lead_id": other_lead}),
    ));
    let appointment = id(app.post(
        "/api/v1/appointments",
        &t,
        &json!({"starts_at": "2026-12-01T09:00:00Z", "lead_id": lead}),
    ));
    let invoice = id(app.post(
        "/api/v1/invoices",
        &t,
        &json!({"total_cents": 1, "job_id": job}),
    ));
    let before = app.get(&format!("/api/v1/jobs/{job}"), &t).json()["updated_at"].clone();
    // An instant after every create (times are kept to the millisecond).
    std::thread::sleep(Duration::from_millis(5));
    let cutoff = switchboard::clock::format_ms(switchboard::clock::now_ms());

    assert_eq!(app.delete(&format!("/api/v1/leads/{lead}"), &t).status, 204);
    for (resource, rid) in [("jobs", job), ("appointments", appointment)] {
        let rec = app.get(&format!("/api/v1/{resource}/{rid}"), &t).json();
        assert_eq!(rec["lead_id"], Value::Null, "{resource}");
        assert_ne!(rec["updated_at"], before, "{resource}: updated_at moved");
        let synced = app
            .get(&format!("/api/v1/{resource}?updated_since={cutoff}"), &t)
            .json();
        let ids: Vec<i64> = synced["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![rid],
            "{resource}: an incremental sync sees the change"
        );
    }
    let kept = app.get(&format!("/api/v1/jobs/{kept_job}"), &t).json();
    assert_eq!(
        kept["lead_id"], other_lead,
        "a reference to another lead is untouched"
    );
    // The invoice still names its job, which was not deleted.
    assert_eq!(
        app.get(&format!("/api/v1/invoices/{invoice}"), &t).json()["job_id"],
        job
    );
    assert_eq!(app.delete(&format!("/api/v1/jobs/{job}"), &t).status, 204);
    assert_eq!(
        app.get(&format!("/api/v1/invoices/{invoice}"), &t).json()["job_id"],
        Value::Null
    );

    let events: Vec<String> = app.query(|c| {
        c.prepare("SELECT type FROM webhook_events WHERE type NOT LIKE '%.created' ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect()
    });
    assert_eq!(
        events,
        [
            "job.updated",
            "appointment.updated",
            "lead.deleted",
            "invoice.updated",
            "job.deleted"
        ]
    );
    // A delete that finds nothing changes nothing.
    assert_eq!(
        app.delete(&format!("/api/v1/leads/{lead}"), &t).code(),
        "not_found"
    );
    assert_eq!(
        app.delete(&format!("/api/v1/leads/{other_lead}"), &t)
            .status,
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/jobs/{kept_job}"), &t).json()["lead_id"],
        Value::Null
    );
}

#[test]
fn reads_see_each_write_at_once_and_a_worker_lets_go_of_its_snapshot_when_it_stops_reading() {
    let app = spawn_app();
    let t = app.admin_token();
    let created = app.post("/api/v1/leads", &t, &json!({"name": "n0"}));
    let path = created.header("location").unwrap().to_owned();
    // The workers keep a snapshot between reads; each write is seen by the read after it.
    for i in 1..=20 {
        let name = format!("n{i}");
        let r = app.patch(&path, &t, &json!({ "name": name }));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.get(&path, &t).json()["name"], json!(name));
        assert_eq!(app.get(&path, &t).json()["name"], json!(name));
    }
    assert!(app.metric("switchboard_db_read_snapshots_total") >= 1);
    // With no more reads, the snapshots are let go, and with them the WAL.
    assert!(
        eventually(Duration::from_secs(5), || app
            .metric("switchboard_db_read_snapshots_held")
            == 0),
        "a worker kept its snapshot"
    );
    assert!(eventually(Duration::from_secs(5), || {
        let (busy, _, _) = app.query(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
        });
        busy == 0
    }));
}

#[test]
fn a_batch_is_all_or_nothing_and_names_bad_records_by_index() {
    let app = spawn_app();
    let t = app.admin_token();
    let r = app.post(
        "/api/v1/leads/batch",
        &t,
        &json!({"records": [{"name": "ok"}, {"name": "ok"}, {"name": "ok"}, {"email": "x@example.com"}]}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "records[3].name");
    let none = app.get("/api/v1/leads", &t).json();
    assert!(none["data"].as_array().unwrap().is_empty());
    let ok = app.post(
        "/api/v1/leads/batch",
        &t,
        &json!({"records": [{"name": "a"}, {"name": "b"}]}),
    );
    assert_eq!(ok.status, 201);
    assert_eq!(names(&ok.json()), [json!("a"), json!("b")]);
    let too_many: Vec<Value> = (0..501).map(|_| json!({"name": "x"})).collect();
    assert_eq!(
        app.post("/api/v1/leads/batch", &t, &json!({"records": too_many}))
            .status,
        422
    );
    // Bad fields and bad references in one batch: every bad record is named, in order.
    let lead = ok.json()["data"][0]["id"].as_i64().unwrap();
    let mixed = app.post(
        "/api/v1/jobs/batch",
        &t,
        &json!({"records": [
            {"title": "a", "lead_id": 99_999},
            {"title": "b", "amount_cents": -1},
            {"title": "c", "lead_id": lead},
            {"title": "d", "lead_id": 99_998, "amount_cents": -2},
        ]}),
    );
    assert_eq!(mixed.status, 422, "{}", mixed.text);
    let fields: Vec<Value> = mixed.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            json!("records[0].lead_id"),
            json!("records[1].amount_cents"),
            json!("records[3].amount_cents")
        ],
        "a record with bad fields is named for them; the references of the others are checked"
    );
    assert_eq!(app.get("/api/v1/jobs", &t).json()["data"], json!([]));
}

#[test]
fn fifty_concurrent_writes_are_all_answered_201() {
    let app = spawn_app();
    let t = app.admin_token();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (app, t) = (&app, &t);
                s.spawn(move || {
                    app.post("/api/v1/leads", t, &json!({"name": format!("lead {i}")}))
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let count =
        app.query(|c| c.query_row("SELECT COUNT(*) FROM leads", [], |r| r.get::<_, i64>(0)));
    assert_eq!(count, 50);
}
