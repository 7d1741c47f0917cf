//! `parse_create` answers exactly what `validate_create` answers for the parsed body.

use proptest::prelude::*;
use serde_json::Value as Json;

use super::super::{APPOINTMENTS, INVOICES, JOBS, LEADS, RESOURCES};

/// Both ways of reading `body`, for one resource: syntax errors as their messages.
fn both(res: &'static crate::resources::Resource, body: &str) {
    let streamed = res.parse_create(body.as_bytes()).map_err(|e| e.to_string());
    let via_value = serde_json::from_slice::<Json>(body.as_bytes())
        .map(|v| res.validate_create(&v, ""))
        .map_err(|e| e.to_string());
    assert_eq!(streamed, via_value, "{} {body}", res.plural);
}

#[test]
fn chosen_bodies_read_the_same_both_ways() {
    let bodies = [
        r#"{"name": "Ada"}"#,
        r#"{"name": "Ada", "status": null, "email": "ada@example.com", "phone": "+44 20 7946 0000"}"#,
        r#"{"name": "A\u00e9\n", "notes": "tab\there", "source": "web"}"#,
        r#"{"name": "Ada", "name": 5}"#,
        r#"{"name": 5, "name": "Ada"}"#,
        r#"{"zeta": 1, "id": 2, "alpha": [1, {"x": 3}], "zeta": null, "name": ""}"#,
        r#"{"name": "Ada", "status": "maybe", "email": "nope", "phone": "x"}"#,
        r#"{"title": "Fix", "lead_id": 18446744073709551615, "amount_cents": 1.5}"#,
        r#"{"title": "Fix", "lead_id": -3, "starts_at": "2026-01-31T09:00:00Z", "ends_at": "2026-01-31T08:00:00Z"}"#,
        r#"{"currency": "eur", "amount_cents": 1e3, "due_on": "2026-02-30"}"#,
        r#"{"name": true, "email": {}, "phone": []}"#,
        r#"{"\u0069d": 1, "name": "Ada"}"#,
        "{}",
        "[]",
        "[1, 2, {\"a\": 1}]",
        "null",
        "true",
        "12",
        "-1.5",
        "\"text\"",
        "",
        "{",
        "{\"name\": \"Ada\"} x",
        "{\"name\": \"Ada\",}",
        "{\"name\": \"\\ud800\"}",
        "{\"name\": 1e400}",
        "  {\"name\" : \"Ada\" }  ",
        &format!("{{\"name\": {}}}", "[".repeat(200) + &"]".repeat(200)),
        &format!("{{\"{}\": 1}}", "k".repeat(300)),
    ];
    for res in RESOURCES {
        for body in bodies {
            both(res, body);
        }
    }
}

/// A JSON value as text: any kind, the strings drawn so that some pass each field's rules.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e6f64..1e6).prop_map(|f| format!("{f:?}")),
        prop_oneof![
            Just("Ada".to_owned()),
            Just(String::new()),
            Just(" ".to_owned()),
            Just("ada@example.com".to_owned()),
            Just("+1 (555) 010-0000".to_owned()),
            Just("new".to_owned()),
            Just("scheduled".to_owned()),
            Just("EUR".to_owned()),
            Just("2026-01-31".to_owned()),
            Just("2026-01-31T09:00:00Z".to_owned()),
            Just("2026-01-31T10:00:00+01:00".to_owned()),
            "\\PC{0,12}",
            ".{0,3}",
        ]
        .prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"esc\\u0061ped\\n\"".to_owned()),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(|v| {
                let entries: Vec<String> =
                    v.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
    })
}

/// A key: one of some resource's fields, a server-owned one, or any other.
fn key() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = RESOURCES
        .iter()
        .flat_map(|r| r.fields.iter().map(|f| f.name))
        .chain(["id", "owner_id", "account_id", "created_at", "updated_at"])
        .collect();
    prop_oneof![
        4 => prop::sample::select(names).prop_map(str::to_owned),
        1 => "\\PC{0,5}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Objects with repeated and unknown keys and values of every kind, for every resource.
    #[test]
    fn random_objects_read_the_same_both_ways(
        entries in prop::collection::vec((key(), value()), 0..9),
    ) {
        let body: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
            .collect();
        let body = format!("{{{}}}", body.join(","));
        for res in [&LEADS, &JOBS, &INVOICES, &APPOINTMENTS] {
            both(res, &body);
        }
    }

    /// Any other value as the whole body, and cut-off or padded text.
    #[test]
    fn other_bodies_read_the_same_both_ways(body in value(), cut in 0usize..40, pad in "[ \\t\\n]{0,2}") {
        for res in [&LEADS, &JOBS] {
            both(res, &body);
            both(res, &format!("{pad}{body}{pad}"));
            let end = body.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(body.len());
            both(res, &body[..end]);
        }
    }
}
