//! The operations of one resource in the OpenAPI document: parameters, bodies, answers.

use serde_json::{Value, json};

use super::openapi::{LIMITS, refs, response, success_headers};
use crate::resources::{FieldKind, Resource};

/// The operations of `res`, whose schemas are named after `name` (`Lead`, `LeadCreate`, …).
pub(super) struct Ops<'a> {
    pub res: &'a Resource,
    pub name: &'a str,
}

/// Answers every authenticated operation may give before its own work.
pub(super) fn auth_errors() -> Value {
    json!({
        "401": response("Unauthorized"),
        "402": response("PaymentRequired"),
        "403": response("Forbidden"),
        "429": response("TooManyRequests"),
        "503": response("Unavailable"),
    })
}

fn security(scope: &str) -> Value {
    json!([{ "bearer": [scope] }, { "apiKey": [scope] }])
}

fn json_body(schema: Value, merge_patch: bool) -> Value {
    let mut content = json!({ "application/json": { "schema": schema.clone() } });
    if merge_patch {
        content["application/merge-patch+json"] = json!({ "schema": schema });
    }
    json!({ "required": true, "content": content })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "headers": success_headers(),
        "content": { "application/json": { "schema": schema } } })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true,
        "description": "The record's id (a positive integer; anything else answers 404).",
        "schema": { "type": "integer", "minimum": 1, "maximum": i64::MAX } })
}

/// The `Idempotency-Key` header of POST operations: 1 to 255 visible ASCII characters, bare
/// or as a quoted string.
fn idempotency_param() -> Value {
    json!({ "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes a retry within 24 h return the first 2xx answer again, creating nothing. \
                        1 to 255 visible ASCII characters, bare or quoted. Keys are scoped to the \
                        account, and an answer is replayed only to the user whose request stored it: \
                        the same key from another user is refused (422 `idempotency_key_reused`).",
        "schema": { "type": "string",
            "pattern": r#"^"[ !#-\[\]-~]{1,255}"$|^[!#-~][ -~]{0,254}$"#,
            "maxLength": 257 } })
}

fn with(mut base: Value, extra: &[(&str, Value)]) -> Value {
    for (k, v) in extra {
        base[*k] = v.clone();
    }
    base
}

impl Ops<'_> {
    /// "a lead", "an invoice".
    fn a(&self) -> String {
        let article = if self.res.singular.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.res.singular)
    }

    fn op(&self, id: &str, summary: String, write: bool) -> Value {
        let scope = if write {
            self.res.write_scope
        } else {
            self.res.read_scope
        };
        json!({
            "operationId": id,
            "tags": [self.res.plural],
            "summary": summary,
            "description": format!("Needs the `{scope}` scope."),
            "security": security(scope),
            "x-scope": scope,
        })
    }

    /// `GET /api/v1/R`
    pub fn list(&self) -> Value {
        let (max_limit, _) = LIMITS;
        let statuses = match self.res.status_field().map(|f| f.kind) {
            Some(FieldKind::Enum(v)) => v,
            _ => &[][..],
        };
        let page = json!({ "type": "object", "required": ["data", "next_cursor"], "additionalProperties": false,
            "properties": { "data": { "type": "array", "items": refs(self.name) },
                "next_cursor": { "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last." } } });
        let responses = with(
            auth_errors(),
            &[
                (
                    "200",
                    ok(
                        "A page of records, oldest first (or by `updated_at` with `updated_since`).",
                        page,
                    ),
                ),
                ("400", response("BadRequest")),
                ("422", response("Unprocessable")),
            ],
        );
        with(
            self.op(
                &format!("list{}s", self.name),
                format!("List {}", self.res.plural),
                false,
            ),
            &[
                (
                    "parameters",
                    json!([
                        { "name": "limit", "in": "query", "required": false,
                          "schema": { "type": "integer", "minimum": 1, "maximum": max_limit, "default": 50 } },
                        { "name": "cursor", "in": "query", "required": false,
                          "description": "The `next_cursor` of the previous page.", "schema": { "type": "string" } },
                        { "name": "updated_since", "in": "query", "required": false,
                          "description": "Only records changed at or after this instant, in `updated_at` order.",
                          "schema": { "type": "string", "format": "date-time" } },
                        { "name": "status", "in": "query", "required": false,
                          "schema": { "type": "string", "enum": statuses } },
                    ]),
                ),
                ("responses", responses),
            ],
        )
    }

    fn write_errors(&self, extra: &[(&str, Value)]) -> Value {
        let mut r = with(
            auth_errors(),
            &[
                ("400", response("BadRequest")),
                ("413", response("PayloadTooLarge")),
                ("415", response("UnsupportedMediaType")),
                ("422", response("Unprocessable")),
            ],
        );
        for (k, v) in extra {
            r[*k] = v.clone();
        }
        r
    }

    /// `POST /api/v1/R`
    pub fn create(&self) -> Value {
        let mut created = ok("The record, created.", refs(self.name));
        // Links let a client (and schemathesis's stateful phase) follow a create to the record.
        let link = |verb: &str| {
            json!({ "operationId": format!("{verb}{}", self.name),
                "parameters": { "id": "$response.body#/id" } })
        };
        created["links"] = json!({
            format!("Get{}", self.name): link("get"),
            format!("Update{}", self.name): link("update"),
            format!("Delete{}", self.name): link("delete"),
        });
        created["headers"]["Location"] = json!({ "required": true, "schema": { "type": "string" },
            "description": "The record's path, e.g. `/api/v1/leads/42`." });
        with(
            self.op(
                &format!("create{}", self.name),
                format!("Create {}", self.a()),
                true,
            ),
            &[
                ("parameters", json!([idempotency_param()])),
                (
                    "requestBody",
                    json_body(refs(&format!("{}Create", self.name)), false),
                ),
                (
                    "responses",
                    self.write_errors(&[("201", created), ("409", response("Conflict"))]),
                ),
            ],
        )
    }

    /// `POST /api/v1/R/batch`
    pub fn batch(&self) -> Value {
        let (_, max_batch) = LIMITS;
        let body = json!({ "type": "object", "required": ["records"], "additionalProperties": false,
            "properties": { "records": { "type": "array", "minItems": 1, "maxItems": max_batch,
                "items": refs(&format!("{}Create", self.name)) } } });
        let result = json!({ "type": "object", "required": ["data"], "additionalProperties": false,
            "properties": { "data": { "type": "array", "items": refs(self.name) } } });
        with(
            self.op(
                &format!("createBatch{}s", self.name),
                format!(
                    "Create up to {max_batch} {} at once, all or nothing",
                    self.res.plural
                ),
                true,
            ),
            &[
                (
                    "description",
                    json!(format!(
                        "Needs the `{}` scope. One transaction; a 422 names each bad record by index \
                     (`records[3].field`). Each record fires its own `created` event.",
                        self.res.write_scope
                    )),
                ),
                ("parameters", json!([idempotency_param()])),
                ("requestBody", json_body(body, false)),
                (
                    "responses",
                    self.write_errors(&[
                        ("201", ok("The records, created, in order.", result)),
                        ("409", response("Conflict")),
                    ]),
                ),
            ],
        )
    }

    /// `GET /api/v1/R/{id}`
    pub fn get(&self) -> Value {
        with(
            self.op(
                &format!("get{}", self.name),
                format!("Get {}", self.a()),
                false,
            ),
            &[
                ("parameters", json!([id_param()])),
                (
                    "responses",
                    with(
                        auth_errors(),
                        &[
                            ("200", ok("The record.", refs(self.name))),
                            ("404", response("NotFound")),
                        ],
                    ),
                ),
            ],
        )
    }

    /// `PATCH /api/v1/R/{id}`
    pub fn patch(&self) -> Value {
        with(
            self.op(
                &format!("update{}", self.name),
                format!("Change {} (JSON merge patch)", self.a()),
                true,
            ),
            &[
                ("parameters", json!([id_param()])),
                (
                    "requestBody",
                    json_body(refs(&format!("{}Patch", self.name)), true),
                ),
                (
                    "responses",
                    self.write_errors(&[
                        (
                            "200",
                            ok(
                                "The record, changed. A patch that changes nothing answers the \
                                 record as it is: `updated_at` stays and no `updated` event is sent.",
                                refs(self.name),
                            ),
                        ),
                        ("404", response("NotFound")),
                    ]),
                ),
            ],
        )
    }

    /// `DELETE /api/v1/R/{id}`
    pub fn delete(&self) -> Value {
        let mut gone = json!({ "description": "Deleted. Records that referred to it (a job's `lead_id`, \
                                                an invoice's `job_id`, ...) lose the reference as an update \
                                                of theirs: their `updated_at` moves and their `updated` \
                                                events are sent." });
        gone["headers"] = success_headers();
        with(
            self.op(
                &format!("delete{}", self.name),
                format!("Delete {}", self.a()),
                true,
            ),
            &[
                ("parameters", json!([id_param()])),
                (
                    "responses",
                    with(
                        auth_errors(),
                        &[("204", gone), ("404", response("NotFound"))],
                    ),
                ),
            ],
        )
    }
}
