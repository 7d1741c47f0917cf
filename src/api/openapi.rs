//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the resource catalog.
//!
//! The same field descriptions that validate requests make the schemas here (enums, required
//! fields, lengths, ranges, formats), so the document cannot drift from the validator.
//! Operations, error answers and headers come from the routes and `ApiError`, listed below once.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::pagination::MAX_LIMIT;
use super::records::MAX_BATCH;
use crate::api::JSON;
use crate::auth::scope::ScopeSet;
use crate::resources::{Field, FieldKind, RESOURCES, Resource};

/// The document, built once.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

static DOCUMENT_BYTES: LazyLock<Vec<u8>> =
    LazyLock::new(|| serde_json::to_vec_pretty(&*DOCUMENT).unwrap_or_default());

/// `GET /api/v1/openapi.json` (no token needed).
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(JSON)
        .insert_header(("cache-control", "public, max-age=300"))
        .body(DOCUMENT_BYTES.as_slice())
}

/// Every problem `code` the API answers with.
const CODES: [&str; 18] = [
    "not_found",
    "method_not_allowed",
    "missing_token",
    "invalid_token",
    "token_expired",
    "ip_not_allowed",
    "subscription_inactive",
    "plan_upgrade_required",
    "rate_limited",
    "insufficient_scope",
    "unsupported_media_type",
    "payload_too_large",
    "invalid_json",
    "validation_failed",
    "invalid_cursor",
    "idempotency_key_reused",
    "idempotency_key_in_flight",
    "service_unavailable",
];

/// Characters the validator refuses in text: control characters other than tab, CR and LF.
const CONTROL: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
/// What Rust's `str::trim` removes (Unicode White_Space), spelled out so that every regex
/// dialect reads it alike.
const SPACE: &str =
    r"\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

fn build() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for res in RESOURCES {
        add_resource(res, &mut paths, &mut schemas);
    }
    paths.insert("/api/v1/me".into(), json!({ "get": me_operation() }));
    paths.insert(
        "/api/v1/openapi.json".into(),
        json!({ "get": {
            "operationId": "getOpenApi", "tags": ["meta"], "summary": "This document",
            "security": [],
            "responses": { "200": { "description": "The OpenAPI 3.1 document.",
                "headers": common_headers(),
                "content": { "application/json": { "schema": { "type": "object" } } } } }
        }}),
    );
    schemas.insert("Problem".into(), problem_schema());
    schemas.insert("Me".into(), me_schema());
    let scopes: Vec<Value> = ScopeSet::from_bits(0xFF)
        .names()
        .into_iter()
        .map(Value::from)
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "apiKey": [] }],
        "tags": RESOURCES.iter().map(|r| json!({ "name": r.plural }))
            .chain([json!({ "name": "meta" })]).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "sb_<prefix>_<secret>",
                    "description": "`Authorization: Bearer sb_…`. Each operation lists the scope it needs." },
                "apiKey": { "type": "apiKey", "in": "header", "name": "x-api-key",
                    "description": "The same token in the `x-api-key` header." }
            },
            "responses": error_responses(),
        },
        "x-scopes": scopes,
    })
}

const DESCRIPTION: &str = "Leads, jobs, invoices and appointments of a small business, behind \
scoped API tokens. Send a token as `Authorization: Bearer sb_…` or `x-api-key: sb_…`. \
Scopes: `leads:read leads:write jobs:read jobs:write invoices:read invoices:write \
appointments:read appointments:write`; `read` covers GET, `write` covers POST, PATCH and DELETE. \
Every error is `application/problem+json` with a stable `code`. Answers that passed the rate \
limiter carry `RateLimit-Policy` and `RateLimit`; a 429 carries `Retry-After`.";

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// `Lead`, `Job`, …
fn type_name(res: &Resource) -> String {
    res.singular
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The JSON Schema of one field's value, exactly as the validator accepts it.
fn field_schema(field: &Field) -> Value {
    match field.kind {
        FieldKind::Text { max } => {
            let pattern = if field.required {
                format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")
            } else {
                format!("^[^{CONTROL}]*$")
            };
            json!({ "type": "string", "maxLength": max, "pattern": pattern })
        }
        FieldKind::Email => {
            // One `@`; a domain with a dot, neither first nor last; no space or control.
            let c = format!("[^@{CONTROL}{SPACE}]");
            let e = format!("[^@.{CONTROL}{SPACE}]");
            json!({ "type": "string", "maxLength": 254,
                "pattern": format!("^{c}+@{e}{c}*\\.{c}*{e}$"),
                "examples": ["ada@example.com"] })
        }
        FieldKind::Phone => json!({ "type": "string", "maxLength": 40,
            "pattern": r"^[ +\-().]*(?:[0-9][ +\-().]*){3,20}$", "examples": ["+44 20 7946 0958"] }),
        FieldKind::Enum(values) => json!({ "type": "string", "enum": values }),
        FieldKind::Integer { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        FieldKind::Date => {
            json!({ "type": "string", "format": "date", "examples": ["2026-01-31"] })
        }
        FieldKind::Instant => {
            json!({ "type": "string", "format": "date-time", "examples": ["2026-01-31T09:00:00Z"] })
        }
        FieldKind::Currency => {
            json!({ "type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"] })
        }
        FieldKind::Reference(target) => json!({ "type": "integer", "minimum": 1,
            "description": format!("The id of a {} of the same account that the caller can see.", target.singular) }),
    }
}

fn nullable(mut schema: Value) -> Value {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        schema["type"] = json!([t, "null"]);
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    schema
}

/// What clients get back: every field present, optional ones possibly null.
fn record_schema(res: &Resource) -> Value {
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({ "type": "integer", "minimum": 1,
        "description": "Never handed out again, even once the record is deleted: each new record's id is above every earlier one's." }),
    );
    props.insert(
        "owner_id".into(),
        json!({ "type": "integer", "minimum": 1,
        "description": "The user whose token created the record." }),
    );
    for f in res.fields {
        let s = field_schema(f);
        let s = if f.required || f.default.is_some() {
            s
        } else {
            nullable(s)
        };
        props.insert(f.name.into(), response_leniency(s));
    }
    props.insert(
        "created_at".into(),
        json!({ "type": "string", "format": "date-time" }),
    );
    props.insert(
        "updated_at".into(),
        json!({ "type": "string", "format": "date-time" }),
    );
    let required: Vec<&str> = props.keys().map(String::as_str).collect();
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// In answers, instants are shown normalised to UTC; stored text is shown as stored. Input-only
/// constraints (patterns) are dropped so the answer schema says what is promised, no more.
fn response_leniency(mut s: Value) -> Value {
    if let Some(o) = s.as_object_mut() {
        o.remove("pattern");
        o.remove("examples");
    }
    s
}

fn create_schema(res: &Resource) -> Value {
    let mut props = Map::new();
    for f in res.fields {
        let s = field_schema(f);
        let s = if f.required { s } else { nullable(s) };
        props.insert(f.name.into(), s);
    }
    let required: Vec<&str> = res
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// A JSON merge patch: any subset of the fields; `null` clears an optional one.
fn patch_schema(res: &Resource) -> Value {
    let mut props = Map::new();
    for f in res.fields {
        let s = field_schema(f);
        let s = if f.required || f.default.is_some() {
            s
        } else {
            nullable(s)
        };
        props.insert(f.name.into(), s);
    }
    json!({ "type": "object", "properties": props, "additionalProperties": false })
}

fn add_resource(res: &Resource, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let name = type_name(res);
    schemas.insert(name.clone(), record_schema(res));
    schemas.insert(format!("{name}Create"), create_schema(res));
    schemas.insert(format!("{name}Patch"), patch_schema(res));
    let ops = super::openapi_ops::Ops { res, name: &name };
    paths.insert(
        format!("/api/v1/{}", res.plural),
        json!({ "get": ops.list(), "post": ops.create() }),
    );
    paths.insert(
        format!("/api/v1/{}/batch", res.plural),
        json!({ "post": ops.batch() }),
    );
    paths.insert(
        format!("/api/v1/{}/{{id}}", res.plural),
        json!({ "get": ops.get(), "patch": ops.patch(), "delete": ops.delete() }),
    );
}

/// Headers on every answer.
pub(super) fn common_headers() -> Value {
    json!({ "X-Request-Id": { "description": "Identifies the request in the server's log.",
        "required": true, "schema": { "type": "string" } } })
}

/// Headers on answers that passed the rate limiter (not for exempt callers).
pub(super) fn success_headers() -> Value {
    let mut h = common_headers();
    h["RateLimit-Policy"] = json!({ "description": "The token's windows, e.g. `\"1s\";q=20;w=1, \"10s\";q=200;w=10`.",
        "schema": { "type": "string" } });
    h["RateLimit"] = json!({ "description": "The tightest window: `\"10s\";r=17;t=4` (r left, t seconds until whole).",
        "schema": { "type": "string" } });
    h
}

fn problem(description: &str, headers: Value) -> Value {
    json!({ "description": description, "headers": headers,
        "content": { "application/problem+json": { "schema": schema_ref("Problem") } } })
}

fn error_responses() -> Value {
    let mut unauthorized = common_headers();
    unauthorized["WWW-Authenticate"] = json!({ "required": true, "schema": { "type": "string" },
        "description": "`Bearer realm=\"switchboard\"`, with `error=\"invalid_token\"` for a bad or expired token." });
    let mut limited = success_headers();
    limited["Retry-After"] = json!({ "required": true, "schema": { "type": "integer", "minimum": 0 },
        "description": "Whole seconds to wait, never less than the real wait." });
    limited["Cache-Control"] = json!({ "schema": { "type": "string" } });
    let mut forbidden = success_headers();
    forbidden["WWW-Authenticate"] = json!({ "schema": { "type": "string" },
        "description": "On `insufficient_scope`: `Bearer error=\"insufficient_scope\", scope=\"…\"`." });
    let mut busy = common_headers();
    busy["Retry-After"] = json!({ "schema": { "type": "integer", "minimum": 0 } });
    json!({
        "BadRequest": problem("`invalid_json` (the body is not JSON) or `invalid_cursor`.", success_headers()),
        "Unauthorized": problem("`missing_token`, `invalid_token` or `token_expired`.", unauthorized),
        "PaymentRequired": problem("`subscription_inactive` or `plan_upgrade_required`.", common_headers()),
        "Forbidden": problem("`ip_not_allowed` (before the limiter) or `insufficient_scope`.", forbidden),
        "NotFound": problem("`not_found`: no such record, or not visible to this token.", success_headers()),
        "Conflict": problem("`idempotency_key_in_flight`: the first request with this key is still running.", success_headers()),
        "PayloadTooLarge": problem("`payload_too_large`.", success_headers()),
        "UnsupportedMediaType": problem("`unsupported_media_type`: send `Content-Type: application/json`.", success_headers()),
        "Unprocessable": problem("`validation_failed` (with `errors`) or `idempotency_key_reused`.", success_headers()),
        "TooManyRequests": problem("`rate_limited`: a window of the token, or failed authentications from this address.", limited),
        "Unavailable": problem("`service_unavailable`: overloaded, shutting down, or the disk is full.", busy),
    })
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details with a stable `code`.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "type": "string", "format": "uri" },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 400, "maximum": 599 },
            "detail": { "type": "string" },
            "code": { "type": "string", "enum": CODES },
            "errors": { "type": "array", "items": { "type": "object", "required": ["field", "message"],
                "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } }
        }
    })
}

fn me_operation() -> Value {
    let mut responses = super::openapi_ops::auth_errors();
    responses["200"] = json!({ "description": "The calling token.", "headers": success_headers(),
        "content": { "application/json": { "schema": schema_ref("Me") } } });
    json!({ "operationId": "getMe", "tags": ["meta"], "summary": "What this token is and may do",
        "description": "Answers for any valid token; needs no scope.",
        "responses": responses })
}

fn me_schema() -> Value {
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let scopes = json!({ "type": "array", "items": { "type": "string", "enum": ScopeSet::from_bits(0xFF).names() } });
    json!({
        "type": "object",
        "required": ["prefix", "name", "user", "account", "scopes", "expires_at", "allow_ips", "limits"],
        "properties": {
            "prefix": { "type": "string" }, "name": { "type": "string" },
            "user": { "type": "object", "required": ["id", "email", "role"], "properties": {
                "id": { "type": "integer" }, "email": { "type": "string" },
                "role": { "type": "string", "enum": ["agent", "admin"] } } },
            "account": { "type": "object", "required": ["id", "name", "plan", "status"], "properties": {
                "id": { "type": "integer" }, "name": { "type": "string" },
                "plan": { "type": "string", "enum": ["free", "starter", "pro"] },
                "status": { "type": "string", "enum": ["trialing", "active", "past_due", "canceled"] } } },
            "scopes": scopes.clone(), "token_scopes": scopes.clone(), "user_permissions": scopes,
            "expires_at": { "type": ["string", "null"], "format": "date-time" },
            "allow_ips": strings.clone(), "account_allow_ips": strings,
            "limits": { "type": "array", "items": { "type": "object", "required": ["limit", "remaining", "reset_seconds"],
                "properties": { "limit": { "type": "string" }, "remaining": { "type": "integer" },
                    "reset_seconds": { "type": "integer" } } } },
            "default_limits": { "type": "boolean" }, "rate_limit_exempt": { "type": "boolean" },
            "caller_ip": { "type": "string" }
        }
    })
}

/// Shared by the operations module: a reference to a component schema or response.
pub(super) fn refs(schema: &str) -> Value {
    schema_ref(schema)
}

/// Shared by the operations module.
pub(super) fn response(name: &str) -> Value {
    response_ref(name)
}

/// Shared by the operations module: `limit` bounds and the batch size.
pub(super) const LIMITS: (u32, usize) = (MAX_LIMIT, MAX_BATCH);
