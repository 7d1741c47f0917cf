//! Webhook endpoints on the admin API: the secret shown once, deliveries, pause, rotate, replay.

use serde_json::json;

use switchboard::manage;
use switchboard::model::EndpointId;
use switchboard::store;

use crate::admin::admin;
use crate::helpers::spawn_app;

#[test]
fn a_webhook_secret_is_shown_once() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "https://hooks.example.com/in", "events": ["lead.created"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let list = b.get("/admin/api/webhooks");
    assert!(!list.text.contains(&secret));
    assert_eq!(list.json()[0]["events"], json!(["lead.created"]));
    let types = b.get("/admin/api/webhooks/events").json();
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "invoice.deleted")
    );
    for body in [
        json!({"url": "ftp://x", "events": ["lead.created"]}),
        json!({"url": "https://x.example", "events": ["lead.exploded"]}),
    ] {
        assert_eq!(b.post("/admin/api/webhooks", &body).status, 422, "{body}");
    }
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        b.call("DELETE", &format!("/admin/api/webhooks/{id}"), None)
            .status,
        204
    );
    assert_eq!(b.get("/admin/api/webhooks").json(), json!([]));
}

/// The deliveries list shows the delivery of every change committed before it was asked for,
/// although the server makes deliveries from events after the change's commit, in bulk.
#[test]
fn the_deliveries_list_shows_the_delivery_of_a_change_made_just_before() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["lead.created"]}),
    );
    let id = r.json()["id"].as_i64().unwrap();
    let token = app.admin_token();
    for n in 1..=20 {
        let lead = app.post(
            "/api/v1/leads",
            &token,
            &json!({ "name": format!("Lead {n}") }),
        );
        assert_eq!(lead.status, 201, "{}", lead.text);
        let list = b
            .get(&format!("/admin/api/deliveries?endpoint_id={id}"))
            .json();
        assert_eq!(list.as_array().unwrap().len(), n, "after lead {n}: {list}");
    }
}

/// An endpoint added or removed between two changes, on the admin API (the server's writer)
/// or as the CLI does (a connection of its own), decides where the next change's event goes:
/// the server keeps the endpoints subscribed to each event, and what it kept never outlives
/// such a change.
#[test]
fn an_endpoint_added_or_removed_between_two_leads_decides_where_the_next_goes() {
    let app = spawn_app();
    let b = admin(&app);
    let token = app.admin_token();
    let lead = |n: u32| {
        let r = app.post(
            "/api/v1/leads",
            &token,
            &json!({ "name": format!("Lead {n}") }),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    };
    let deliveries = |id: i64| {
        b.get(&format!("/admin/api/deliveries?endpoint_id={id}"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    // No endpoint yet: the answer kept is "none".
    lead(1);
    let a = b
        .post(
            "/admin/api/webhooks",
            &json!({"url": "http://127.0.0.1:9/a", "events": ["lead.created"]}),
        )
        .json()["id"]
        .as_i64()
        .unwrap();
    lead(2);
    assert_eq!(deliveries(a), 1, "added on the admin API");

    let c = app
        .manage(|c| {
            manage::webhooks::add(c, "default", "http://127.0.0.1:9/c", &["*".into()], None)
        })
        .endpoint
        .id
        .0;
    lead(3);
    assert_eq!(
        (deliveries(a), deliveries(c)),
        (2, 1),
        "added as the CLI does"
    );

    app.manage(|conn| manage::webhooks::remove(conn, EndpointId(a)));
    lead(4);
    assert_eq!(deliveries(c), 2, "removed as the CLI does");
    assert_eq!(
        b.get("/admin/api/webhooks")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        b.call("DELETE", &format!("/admin/api/webhooks/{c}"), None)
            .status,
        204
    );
    lead(5);
    let events: i64 = store::open_connection(&app.db_path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM webhook_events WHERE type = 'lead.created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 3, "leads 2, 3 and 4 had an endpoint; 1 and 5 none");
}

#[test]
fn webhook_endpoints_pause_rotate_test_and_replay_from_the_admin_api() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.post(
        "/admin/api/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
    );
    let first_secret = r.json()["secret"].as_str().unwrap().to_owned();
    let id = r.json()["id"].as_i64().unwrap();

    let test = b.call("POST", &format!("/admin/api/webhooks/{id}/test"), None);
    assert_eq!(test.status, 202, "{}", test.text);
    assert_eq!(test.json()["event_type"], "webhook.test");
    let list = b.get("/admin/api/deliveries").json();
    let delivery = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "webhook.test")
        .expect("the test delivery is listed")
        .clone();
    let did = delivery["id"].as_i64().unwrap();
    let replay = b.call("POST", &format!("/admin/api/deliveries/{did}/replay"), None);
    assert!(matches!(replay.status, 200 | 409), "{}", replay.text);
    if replay.status == 200 {
        assert_eq!(
            replay.json()["webhook_id"],
            delivery["webhook_id"],
            "same message id"
        );
    }
    assert_eq!(b.get("/admin/api/deliveries?status=exploded").status, 422);
    assert_eq!(
        b.call("POST", "/admin/api/deliveries/999999/replay", None)
            .status,
        404
    );

    let off = b.patch(
        &format!("/admin/api/webhooks/{id}"),
        &json!({"enabled": false}),
    );
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.json()["enabled"], false);
    let on = b.patch(
        &format!("/admin/api/webhooks/{id}"),
        &json!({"enabled": true}),
    );
    assert_eq!(on.json()["enabled"], true);
    assert_eq!(
        b.patch(
            &format!("/admin/api/webhooks/{id}"),
            &json!({"enabled": "yes"})
        )
        .status,
        422
    );

    let rotated = b.call(
        "POST",
        &format!("/admin/api/webhooks/{id}/rotate-secret"),
        None,
    );
    let second = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first_secret);
    assert!(!b.get("/admin/api/webhooks").text.contains(&second));
}
