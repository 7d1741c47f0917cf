//! API1: every route of every resource refuses records of another agent or another account,
//! answering 404 (never 403) so that existence does not leak, also when ids are guessed.

use serde_json::{Value, json};
use switchboard::model::Role;

use crate::helpers::{ALL_SCOPES, TestApp, spawn_app};

fn sample(resource: &str) -> Value {
    match resource {
        "leads" => json!({"name": "Victim lead"}),
        "jobs" => json!({"title": "Victim job"}),
        "invoices" => json!({"total_cents": 100}),
        _ => json!({"starts_at": "2026-12-01T09:00:00Z"}),
    }
}

const RESOURCES: [&str; 4] = ["leads", "jobs", "invoices", "appointments"];

/// Asserts that `attacker` reaches none of `ids` of `resource` by any route.
fn assert_unreachable(app: &TestApp, attacker: &str, resource: &str, ids: &[i64], who: &str) {
    for id in ids {
        let path = format!("/api/v1/{resource}/{id}");
        assert_eq!(
            app.get(&path, attacker).code(),
            "not_found",
            "{who}: GET {path}"
        );
        assert_eq!(
            app.patch(&path, attacker, &json!({})).code(),
            "not_found",
            "{who}: PATCH {path}"
        );
        assert_eq!(
            app.delete(&path, attacker).code(),
            "not_found",
            "{who}: DELETE {path}"
        );
    }
    let list = app
        .get(&format!("/api/v1/{resource}?limit=200"), attacker)
        .json();
    let seen: Vec<i64> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| !seen.contains(id)),
        "{who}: list of {resource} leaks {seen:?}"
    );
}

#[test]
fn agents_and_other_accounts_reach_no_record_by_any_route_even_guessing_ids() {
    let app = spawn_app();
    app.add_user("victim@example.com", Role::Agent);
    app.add_user("peer@example.com", Role::Agent);
    app.add_account_with_admin("rival", "rival-admin@example.com");
    let victim = app.token_for("victim@example.com", &ALL_SCOPES);
    let peer = app.token_for("peer@example.com", &ALL_SCOPES);
    let rival = app.token_for("rival-admin@example.com", &ALL_SCOPES);
    for resource in RESOURCES {
        let ids: Vec<i64> = (0..3)
            .map(|_| {
                app.post(&format!("/api/v1/{resource}"), &victim, &sample(resource))
                    .json()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_unreachable(&app, &peer, resource, &ids, "another agent");
        assert_unreachable(&app, &rival, resource, &ids, "another account's admin");
        // Guessing: every id up to well past the last one.
        let guesses: Vec<i64> = (1..=ids[2] + 5).collect();
        assert_unreachable(&app, &rival, resource, &guesses, "id guessing");
        // Still there for their owner.
        for id in &ids {
            assert_eq!(
                app.get(&format!("/api/v1/{resource}/{id}"), &victim).status,
                200
            );
        }
    }
}

#[test]
fn references_cannot_point_into_records_the_caller_cannot_see() {
    let app = spawn_app();
    app.add_user("victim@example.com", Role::Agent);
    app.add_user("peer@example.com", Role::Agent);
    let victim = app.token_for("victim@example.com", &ALL_SCOPES);
    let peer = app.token_for("peer@example.com", &ALL_SCOPES);
    let lead = app
        .post("/api/v1/leads", &victim, &json!({"name": "x"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    let job = app
        .post("/api/v1/jobs", &victim, &json!({"title": "x"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    let cases = [
        (
            "/api/v1/jobs",
            json!({"title": "t", "lead_id": lead}),
            "lead_id",
        ),
        (
            "/api/v1/appointments",
            json!({"starts_at": "2026-12-01T09:00:00Z", "lead_id": lead}),
            "lead_id",
        ),
        (
            "/api/v1/invoices",
            json!({"total_cents": 1, "job_id": job}),
            "job_id",
        ),
    ];
    for (path, body, field) in cases {
        let r = app.post(path, &peer, &body);
        assert_eq!(r.status, 422, "{path}");
        assert_eq!(r.json()["errors"][0]["field"], field);
    }
    let own = app
        .post("/api/v1/jobs", &peer, &json!({"title": "mine"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = app.patch(
        &format!("/api/v1/jobs/{own}"),
        &peer,
        &json!({"lead_id": lead}),
    );
    assert_eq!(r.status, 422, "PATCH cannot smuggle a reference either");
}
