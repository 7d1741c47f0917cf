//! API3: clients cannot write server-owned properties (mass assignment), and answers show
//! nothing beyond the record's own fields.

use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn server_owned_properties_cannot_be_mass_assigned_on_create_or_patch() {
    let app = spawn_app();
    let t = app.admin_token();
    let rec = app
        .post("/api/v1/leads", &t, &json!({"name": "Ada"}))
        .json();
    let path = format!("/api/v1/leads/{}", rec["id"]);
    let attempts = [
        json!({"owner_id": 999}),
        json!({"account_id": 2}),
        json!({"id": 12345}),
        json!({"created_at": "2000-01-01T00:00:00Z"}),
        json!({"updated_at": "2000-01-01T00:00:00Z"}),
    ];
    for extra in attempts {
        let mut body = json!({"name": "Eve"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let created = app.post("/api/v1/leads", &t, &body);
        assert_eq!(created.status, 422, "POST {extra}");
        let field = extra.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(created.json()["errors"][0]["field"], field.as_str());
        let patched = app.patch(&path, &t, &extra);
        assert_eq!(patched.status, 422, "PATCH {extra}");
    }
    assert_eq!(app.get(&path, &t).json(), rec, "nothing changed");
    let count =
        app.query(|c| c.query_row("SELECT COUNT(*) FROM leads", [], |r| r.get::<_, i64>(0)));
    assert_eq!(count, 1);
}

#[test]
fn records_never_expose_the_account_or_internal_columns() {
    let app = spawn_app();
    let t = app.admin_token();
    let rec = app
        .post("/api/v1/jobs", &t, &json!({"title": "Boiler"}))
        .json();
    let keys: Vec<&String> = rec.as_object().unwrap().keys().collect();
    for hidden in ["account_id", "token_hash", "password_hash"] {
        assert!(
            !keys.iter().any(|k| k.as_str() == hidden),
            "{hidden} leaked: {keys:?}"
        );
    }
}
