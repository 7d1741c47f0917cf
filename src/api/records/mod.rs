//! The generic CRUD handlers: one set serves leads, jobs, invoices and appointments.

use actix_web::FromRequest;
use actix_web::dev::Payload;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::future::{Ready, ready};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::body::{RECORD_BODY_LIMIT, invalid_json, read_body, read_json};
use super::idempotency::{self, Begin, Body, InFlightKeys};
use super::pagination::{ListParams, encode_cursor};
use crate::api::JSON;
use crate::auth::Caller;
use crate::clock;
use crate::error::ApiError;
use crate::resources::{Change, FieldError, Resource};
use crate::store::records::{self, Columns, PageQuery, Reach, Row};
use crate::store::{Store, StoreError, StoreResult};
use crate::webhooks::events;

mod batch;

pub use batch::{MAX_BATCH, create_batch};

/// The resource named by the path, checked before any credential: an unknown resource
/// or a path id that is not a positive integer is a 404.
pub struct Target {
    resource: &'static Resource,
    id: Option<i64>,
}

impl Target {
    fn id(&self) -> i64 {
        self.id.expect("item routes have an id")
    }

    /// The scope check every handler makes: read for GET, write otherwise; then what the
    /// caller reaches.
    fn authorize(
        &self,
        caller: &Caller,
        write: bool,
    ) -> Result<(&'static Resource, Reach), ApiError> {
        caller.require(self.resource.scope_for(write))?;
        Ok((self.resource, caller.reach()))
    }
}

/// The resource a route serves, set on each resource's routes (see `api::record_routes`).
#[derive(Clone, Copy)]
pub struct RouteResource(pub &'static Resource);

impl FromRequest for Target {
    type Error = ApiError;
    type Future = Ready<Result<Target, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let resource = req.app_data::<RouteResource>().map(|r| r.0);
        let id = req.match_info().get("id").map(record_id);
        ready(match (resource, id) {
            (Some(resource), None) => Ok(Target { resource, id: None }),
            (Some(resource), Some(Ok(id))) => Ok(Target {
                resource,
                id: Some(id),
            }),
            _ => Err(ApiError::NotFound),
        })
    }
}

/// A path id that is not a positive integer names no record.
fn record_id(s: &str) -> Result<i64, ApiError> {
    match s.parse::<i64>() {
        Ok(id) if id > 0 && !s.starts_with('+') => Ok(id),
        _ => Err(ApiError::NotFound),
    }
}

/// `GET /api/v1/{resource}`
pub async fn list_records(
    target: Target,
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, false)?;
    let params = web::Query::<ListParams>::from_query(req.query_string())
        .map_err(|e| ApiError::Validation(vec![FieldError::new("(query)", e.to_string())]))?
        .into_inner();
    let query = params.into_query(res)?;
    // A page walks an index and stops after it (`records::page_query`), so it usually takes
    // well under a millisecond: inline. One whose filter skips many rows (or an agent's
    // past many unfiled rows of others, see `store::filing`) is stopped at its budget and
    // written on the blocking pool instead.
    let inline = store.try_read_inline(records::page_steps(&query), |c| {
        write_page(c, res, reach, &query)
    })?;
    let page = match inline {
        Some(page) => page,
        None => {
            let store = store.into_inner();
            web::block(move || store.read(|c| write_page(c, res, reach, &query))).await??
        }
    };
    Ok(HttpResponse::Ok().content_type(JSON).body(page))
}

/// A page as its JSON body, `{"data": [...], "next_cursor": ...}`, written while the rows are
/// read: no copy of a row is made on the way.
fn write_page(
    conn: &Connection,
    res: &'static Resource,
    reach: Reach,
    query: &PageQuery,
) -> StoreResult<Vec<u8>> {
    let limit = query.limit as usize;
    // One more than asked tells whether another page exists.
    let query = PageQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut out = String::with_capacity(512 * limit + 64);
    out.push_str("{\"data\":[");
    let (mut shown, mut last, mut more) = (0, None, false);
    records::list_page(conn, &res.table, reach, &query, |row| {
        if shown == limit {
            more = true;
            return Ok(());
        }
        if shown > 0 {
            out.push(',');
        }
        res.write_json(row, &mut out)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (id, _, _, updated_at) = row.common()?;
        last = Some((updated_at, id));
        shown += 1;
        Ok(())
    })?;
    out.push_str("],\"next_cursor\":");
    match last.filter(|_| more) {
        Some((updated_at, id)) => {
            let cursor = encode_cursor(updated_at, id, query.updated_since.is_some());
            out.push('"');
            out.push_str(&cursor); // base64url: nothing to escape
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push('}');
    Ok(out.into_bytes())
}

/// `GET /api/v1/{resource}/{id}`
pub async fn get_record(
    target: Target,
    caller: Caller,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, false)?;
    let id = target.id();
    // A primary-key read: inline on this worker's connection (see `Store::read_inline`),
    // the answer written from the statement's row.
    let json = store
        .read_inline(|c| records::view_by_id(c, &res.table, reach, id, |r| res.json_bytes(r)))?;
    let json = json.ok_or(ApiError::NotFound)?.map_err(internal)?;
    Ok(HttpResponse::Ok().content_type(JSON).body(json))
}

/// `POST /api/v1/{resource}`
pub async fn create_record(
    target: Target,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    keys: web::Data<InFlightKeys>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, true)?;
    let body = read_body(&req, payload, RECORD_BODY_LIMIT, false).await?;
    // A syntax error answers before the key is looked at; an invalid record after.
    let values = res.parse_create(&body).map_err(invalid_json)?;
    let guard = match idempotency::begin(&req, &caller, Body::Raw(&body), &store, &keys).await? {
        Begin::Replay(answer) => return Ok(answer),
        Begin::Proceed(guard) => guard,
    };
    let values = values.map_err(ApiError::Validation)?;
    let (owner, key) = (caller.token.user_id, guard.pending());
    let (location, json) = store
        .writer()
        .write_repeatable(move |tx| {
            check_references(tx, res, reach, &values, "")?;
            let now = clock::now_ms();
            let row =
                records::insert(tx, &res.table, reach.account_id, owner, values.clone(), now)?;
            let json = res.json(&row).map_err(internal)?;
            events::record_changed(tx, reach.account_id, res, Change::Created, &json)?;
            let location = format!("/api/v1/{}/{}", res.plural, row.id);
            if let Some(k) = &key {
                k.store(tx, 201, Some(&location), json.as_bytes())?;
            }
            Ok::<_, ApiError>((location, json))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .content_type(JSON)
        .body(json))
}

fn internal(e: serde_json::Error) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// `PATCH /api/v1/{resource}/{id}`: the record must be visible before the body is looked at.
pub async fn update_record(
    target: Target,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, true)?;
    let id = target.id();
    let visible = store.read_inline(|c| records::is_reachable(c, res.table.name, reach, id))?;
    if !visible {
        return Err(ApiError::NotFound);
    }
    let body = read_json(&req, payload, RECORD_BODY_LIMIT, true).await?;
    let changes = res.validate_patch(&body).map_err(ApiError::Validation)?;
    let json = store
        .writer()
        .write_repeatable(move |tx| {
            let current =
                records::find_by_id(tx, &res.table, reach, id)?.ok_or(ApiError::NotFound)?;
            let mut merged = current.values.clone();
            for (i, v) in &changes {
                merged[*i] = v.clone();
            }
            if merged == current.values {
                // Nothing changes (`{}`, or the values it already has): no write, no
                // `updated_at` moved, no `updated` event for a sync or a webhook to act on.
                return res.json(&current).map_err(internal);
            }
            res.check_consistency(&merged, "")
                .map_err(ApiError::Validation)?;
            let changed: Vec<Value> = changes.iter().map(|(_, v)| v.clone()).collect();
            let indices: Vec<usize> = changes.iter().map(|(i, _)| *i).collect();
            check_reference_values(
                tx,
                res,
                reach,
                indices.iter().copied().zip(changed.iter()),
                "",
            )?;
            let row = records::update(tx, &res.table, reach, id, changes.clone(), clock::now_ms())?
                .ok_or(ApiError::NotFound)?;
            let json = res.json(&row).map_err(internal)?;
            events::record_changed(tx, reach.account_id, res, Change::Updated, &json)?;
            Ok::<_, ApiError>(json)
        })
        .await?;
    Ok(HttpResponse::Ok().content_type(JSON).body(json))
}

/// `DELETE /api/v1/{resource}/{id}`
pub async fn delete_record(
    target: Target,
    caller: Caller,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, true)?;
    let id = target.id();
    store
        .writer()
        .write_repeatable(move |tx| {
            if !records::is_reachable(tx, res.table.name, reach, id)? {
                return Err(ApiError::NotFound);
            }
            // The records that refer to this one lose the reference as an update of theirs,
            // with its event: `ON DELETE SET NULL` alone would change them unseen.
            let now = clock::now_ms();
            for (referrer, field) in res.referenced_by() {
                let cleared = records::clear_references(
                    tx,
                    &referrer.table,
                    field,
                    reach.account_id,
                    id,
                    now,
                )?;
                for row in cleared {
                    let json = referrer.json(&row).map_err(internal)?;
                    events::record_changed(tx, reach.account_id, referrer, Change::Updated, &json)?;
                }
            }
            let row: Row = records::delete(tx, &res.table, reach, id)?.ok_or(ApiError::NotFound)?;
            let json = res.json(&row).map_err(internal)?;
            events::record_changed(tx, reach.account_id, res, Change::Deleted, &json)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn check_references(
    tx: &Connection,
    res: &'static Resource,
    reach: Reach,
    values: &[Value],
    at: &str,
) -> Result<(), ApiError> {
    check_reference_values(tx, res, reach, values.iter().enumerate(), at)
}

/// Every reference must name a record of the same account that the caller can see.
fn check_reference_values<'v>(
    tx: &Connection,
    res: &'static Resource,
    reach: Reach,
    values: impl IntoIterator<Item = (usize, &'v Value)>,
    at: &str,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (field, target, id) in res.references(values) {
        if !records::is_reachable(tx, target.table.name, reach, id)? {
            errors.push(FieldError::new(
                format!("{at}{field}"),
                format!("no {} with id {id}", target.singular),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}
