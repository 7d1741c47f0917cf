//! The OpenAPI document, the 405 `Allow` header and the docs page.

use super::*;

#[test]
fn the_openapi_document_needs_no_token_and_covers_every_route_and_error() {
    let app = spawn_app();
    let r = app.send("GET", "/api/v1/openapi.json", &[], None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for res in ["leads", "jobs", "invoices", "appointments"] {
        let list = &paths[&format!("/api/v1/{res}")];
        assert_eq!(
            list["get"]["security"][0]["bearer"][0],
            format!("{res}:read")
        );
        assert_eq!(
            list["post"]["security"][1]["apiKey"][0],
            format!("{res}:write")
        );
        let item = &paths[&format!("/api/v1/{res}/{{id}}")];
        let patch = &item["patch"]["requestBody"]["content"];
        assert!(patch["application/merge-patch+json"].is_object(), "{res}");
        assert!(item["delete"]["responses"]["204"].is_object());
        assert!(paths[&format!("/api/v1/{res}/batch")]["post"].is_object());
        let params: Vec<&str> = list["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["limit", "cursor", "updated_since", "status"]);
    }
    assert!(paths["/api/v1/me"]["get"].is_object());
    assert_eq!(paths.len(), 4 * 3 + 2, "no route left out, none invented");
    let lead = &doc["components"]["schemas"]["LeadCreate"];
    assert_eq!(lead["required"], json!(["name"]));
    assert_eq!(lead["properties"]["name"]["maxLength"], 200);
    assert_eq!(
        lead["properties"]["status"]["enum"],
        json!(["new", "contacted", "quoted", "won", "lost", null])
    );
    let responses = &doc["components"]["responses"];
    assert_eq!(
        responses["Unauthorized"]["headers"]["WWW-Authenticate"]["required"],
        true
    );
    assert_eq!(
        responses["TooManyRequests"]["headers"]["Retry-After"]["required"],
        true
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(doc["x-scopes"].as_array().unwrap().len(), 8);
}

#[test]
fn the_document_names_every_code_the_api_answers_with() {
    let app = spawn_app();
    let doc = app.send("GET", "/api/v1/openapi.json", &[], None).json();
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].clone();
    let token = app.admin_token();
    let answers = [
        app.get("/api/v1/leads", "sb_bad"),
        app.send("GET", "/api/v1/leads", &[], None),
        app.get("/api/v1/leads?limit=0", &token),
        app.get("/api/v1/leads?cursor=zzz", &token),
        app.get("/api/v1/leads/99", &token),
        app.send("TRACE", "/api/v1/leads", &[], None),
    ];
    for a in answers {
        let code = a.code();
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }
}

#[test]
fn a_405_names_the_allowed_methods() {
    let app = spawn_app();
    let mut cases = vec![
        ("/api/v1/me".to_owned(), "GET, HEAD"),
        ("/api/v1/openapi.json".to_owned(), "GET, HEAD"),
    ];
    // Every resource has its own routes: each answers the same.
    for res in ["leads", "jobs", "invoices", "appointments"] {
        cases.push((format!("/api/v1/{res}"), "GET, HEAD, POST"));
        cases.push((format!("/api/v1/{res}/batch"), "POST"));
        cases.push((format!("/api/v1/{res}/7"), "GET, HEAD, PATCH, DELETE"));
    }
    for (path, allow) in cases {
        let path = path.as_str();
        let r = app.send("PUT", path, &[], None);
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
        assert_eq!(r.code(), "method_not_allowed");
    }
}

#[test]
fn the_docs_page_renders_every_operation_with_a_curl_example() {
    let app = spawn_app();
    let r = app.send("GET", "/docs", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(!r.text.contains("<script"), "no scripts, no CDN");
    for needle in [
        "/api/v1/leads/{id}",
        "/api/v1/appointments/batch",
        "merge patch",
        &format!(
            "curl -H \"Authorization: Bearer $TOKEN\" {}/api/v1/me",
            app.address
        ),
        "-X POST -H &quot;Authorization: Bearer $TOKEN&quot;",
    ] {
        assert!(r.text.contains(needle), "missing `{needle}`");
    }
}
