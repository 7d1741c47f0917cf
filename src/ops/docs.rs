//! `GET /docs`: a readable reference of the API, rendered on the server from the same OpenAPI
//! document that `/api/v1/openapi.json` serves, with a curl example for every operation.
//!
//! Rendered here rather than by a JavaScript bundle: nothing third-party is shipped or
//! fetched, the page works offline and without scripts, and the binary stays small.

use std::fmt::Write as _;
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::api::openapi::DOCUMENT;

static PAGE: LazyLock<String> = LazyLock::new(|| render(&DOCUMENT));

/// Registers `GET /docs`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api::get_or_head("/docs", docs));
}

async fn docs(req: HttpRequest) -> HttpResponse {
    // The examples name the address the reader used, so they can be pasted as they are.
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(PAGE.replace("{{BASE}}", &escape(&base)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `**`-free markdown-ish text: only backticks become `<code>`.
fn text(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |node, key| &node[key]),
        None => v,
    }
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
code,pre{font:13px/1.4 ui-monospace,monospace;background:#f4f4f4;border-radius:4px}code{padding:0 .2em}\
pre{padding:.6rem;overflow-x:auto}h2{border-bottom:1px solid #ddd;margin-top:2.5rem}\
.op{border:1px solid #ddd;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}\
.m{font-weight:700;display:inline-block;min-width:4.5rem}table{border-collapse:collapse}\
td,th{border-bottom:1px solid #eee;padding:.2rem .6rem;text-align:left;vertical-align:top}";

/// Method, path and the operation object.
type Operation<'a> = (String, String, &'a Value);

/// The whole page; `{{BASE}}` stands for the server's address.
pub fn render(doc: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>{t} <small>{v}</small></h1><p>{d}</p>\
         <p>First call: <code>export TOKEN=sb_…</code> (from <code>switchboard token create</code>), then\
         </p><pre>curl -H \"Authorization: Bearer $TOKEN\" {{{{BASE}}}}/api/v1/me</pre>\
         <p>The machine-readable document: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>",
        t = escape(title),
        v = escape(doc["info"]["version"].as_str().unwrap_or("")),
        d = text(doc["info"]["description"].as_str().unwrap_or("")),
    );
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let mut by_tag: Vec<(String, Vec<Operation<'_>>)> = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap_or(&empty) {
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let entry = match by_tag.iter_mut().find(|(t, _)| *t == tag) {
                Some(e) => e,
                None => {
                    by_tag.push((tag.clone(), Vec::new()));
                    by_tag.last_mut().expect("just pushed")
                }
            };
            entry.1.push((method.to_uppercase(), path.clone(), op));
        }
    }
    for (tag, ops) in &by_tag {
        let _ = write!(out, "<h2 id=\"{t}\">{t}</h2>", t = escape(tag));
        for (method, path, op) in ops {
            operation(&mut out, doc, method, path, op);
        }
    }
    out.push_str("<h2>Errors</h2><p>Every error is <code>application/problem+json</code>:</p><table><tr><th>status</th><th>meaning</th></tr>");
    for (_, r) in doc["components"]["responses"].as_object().unwrap_or(&empty) {
        let _ = write!(
            out,
            "<tr><td colspan=2>{}</td></tr>",
            text(r["description"].as_str().unwrap_or(""))
        );
    }
    out.push_str("</table></body></html>");
    out
}

fn operation(out: &mut String, doc: &Value, method: &str, path: &str, op: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\"><h3><span class=\"m\">{method}</span><code>{p}</code></h3><p>{s}. {d}</p>",
        p = escape(path),
        s = text(op["summary"].as_str().unwrap_or("")),
        d = text(op["description"].as_str().unwrap_or("")),
    );
    if let Some(params) = op["parameters"].as_array() {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(p["name"].as_str().unwrap_or("")),
                escape(p["in"].as_str().unwrap_or("")),
                schema_summary(&p["schema"])
            );
        }
        out.push_str("</table>");
    }
    let body_schema = resolve(
        doc,
        &op["requestBody"]["content"]["application/json"]["schema"],
    );
    if body_schema.is_object() {
        fields_table(out, doc, body_schema);
    }
    let statuses: Vec<&String> = op["responses"]
        .as_object()
        .map(|r| r.keys().collect())
        .unwrap_or_default();
    let _ = write!(
        out,
        "<p>Answers: {}</p>",
        statuses
            .iter()
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = write!(
        out,
        "<pre>{}</pre></div>",
        escape(&curl(doc, method, path, op, body_schema))
    );
}

fn fields_table(out: &mut String, doc: &Value, schema: &Value) {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("<table><tr><th>body field</th><th>schema</th></tr>");
    if let Some(props) = schema["properties"].as_object() {
        for (name, s) in props {
            let s = resolve(doc, s);
            let nested = if s["type"] == "array" {
                let items = resolve(doc, &s["items"]);
                format!(
                    "array of objects ({} fields)",
                    items["properties"].as_object().map_or(0, |p| p.len())
                )
            } else {
                schema_summary(s)
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td></tr>",
                escape(name),
                if required.contains(&name.as_str()) {
                    " <b>required</b>"
                } else {
                    ""
                },
                nested
            );
        }
    }
    out.push_str("</table>");
}

fn schema_summary(s: &Value) -> String {
    let mut parts = Vec::new();
    match &s["type"] {
        Value::String(t) => parts.push(t.clone()),
        Value::Array(ts) => parts.push(
            ts.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        _ => {}
    }
    if let Some(f) = s["format"].as_str() {
        parts.push(format!("format {f}"));
    }
    if let Some(e) = s["enum"].as_array() {
        let names: Vec<String> = e
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        parts.push(format!("one of {}", names.join(", ")));
    }
    if let Some(n) = s["maxLength"].as_u64() {
        parts.push(format!("at most {n} characters"));
    }
    if let (Some(a), Some(b)) = (s["minimum"].as_i64(), s["maximum"].as_i64()) {
        parts.push(format!("{a} to {b}"));
    }
    if let Some(d) = s["description"].as_str() {
        parts.push(d.to_owned());
    }
    text(&parts.join("; "))
}

/// An example body: required fields with an example value each.
fn example_body(doc: &Value, schema: &Value) -> Value {
    let mut obj = serde_json::Map::new();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, s) in schema["properties"].as_object().into_iter().flatten() {
        let s = resolve(doc, s);
        if !required.contains(&name.as_str()) && name != "status" {
            continue;
        }
        let v = if s["type"] == "array" {
            Value::Array(vec![example_body(doc, resolve(doc, &s["items"]))])
        } else if let Some(e) = s["examples"].get(0) {
            e.clone()
        } else if let Some(e) = s["enum"].get(0) {
            e.clone()
        } else if s["type"] == "integer" {
            Value::from(s["minimum"].as_i64().unwrap_or(0).max(1) * 100)
        } else if s["format"] == "date-time" {
            Value::from("2026-01-31T09:00:00Z")
        } else {
            Value::from("Example")
        };
        obj.insert(name.clone(), v);
    }
    Value::Object(obj)
}

fn curl(doc: &Value, method: &str, path: &str, op: &Value, body: &Value) -> String {
    let path = path.replace("{id}", "1");
    let auth = if op["security"].as_array().is_some_and(Vec::is_empty) {
        String::new()
    } else {
        " -H \"Authorization: Bearer $TOKEN\"".to_owned()
    };
    let method_flag = if method == "GET" {
        String::new()
    } else {
        format!(" -X {method}")
    };
    let mut cmd = format!("curl{method_flag}{auth} {{{{BASE}}}}{path}");
    if body.is_object() {
        let example = example_body(doc, body);
        let _ = write!(
            cmd,
            " \\\n  -H \"Content-Type: application/json\" -d '{example}'"
        );
    }
    cmd
}
