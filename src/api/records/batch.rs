//! `POST /api/v1/{resource}/batch`: creating up to `MAX_BATCH` records at once, all or
//! nothing, and the 422 that names every bad record.

use actix_web::{HttpRequest, HttpResponse, web};
use rusqlite::types::Value;

use super::{Target, check_references, internal};
use crate::api::JSON;
use crate::api::body::{BATCH_BODY_LIMIT, read_json};
use crate::api::idempotency::{self, Begin, Body, InFlightKeys};
use crate::auth::Caller;
use crate::clock;
use crate::error::ApiError;
use crate::resources::{Change, FieldError, Resource};
use crate::store::Store;
use crate::store::records::{self, Reach};
use crate::webhooks::events;

/// The most records one batch may carry.
pub const MAX_BATCH: usize = 500;

/// `POST /api/v1/{resource}/batch`: all or nothing, in one transaction.
pub async fn create_batch(
    target: Target,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    keys: web::Data<InFlightKeys>,
) -> Result<HttpResponse, ApiError> {
    let (res, reach) = target.authorize(&caller, true)?;
    let body = read_json(&req, payload, BATCH_BODY_LIMIT, false).await?;
    let guard = match idempotency::begin(&req, &caller, Body::Parsed(&body), &store, &keys).await? {
        Begin::Replay(answer) => return Ok(answer),
        Begin::Proceed(guard) => guard,
    };
    let batch = match parse_batch(res, &body)? {
        Ok(batch) => batch,
        Err(parsed) => return Err(every_bad_record(&store, res, reach, parsed).await),
    };
    let (owner, key) = (caller.token.user_id, guard.pending());
    let json = store
        .writer()
        .write_repeatable(move |tx| {
            let now = clock::now_ms();
            let mut errors = Vec::new();
            for (i, values) in batch.iter().enumerate() {
                match check_references(tx, res, reach, values, &format!("records[{i}].")) {
                    Ok(()) => {}
                    Err(ApiError::Validation(mut e)) => errors.append(&mut e),
                    Err(other) => return Err(other),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let mut json = String::from("{\"data\":[");
            for (i, values) in batch.iter().enumerate() {
                let values = values.clone();
                let row = records::insert(tx, &res.table, reach.account_id, owner, values, now)?;
                let record = res.json(&row).map_err(internal)?;
                events::record_changed(tx, reach.account_id, res, Change::Created, &record)?;
                if i > 0 {
                    json.push(',');
                }
                json.push_str(&record);
            }
            json.push_str("]}");
            if let Some(k) = &key {
                k.store(tx, 201, None, json.as_bytes())?;
            }
            Ok::<_, ApiError>(json)
        })
        .await?;
    Ok(HttpResponse::Created().content_type(JSON).body(json))
}

/// Each record of a batch, validated: its values, or what is wrong with it.
type Parsed = Vec<Result<Vec<Value>, Vec<FieldError>>>;

/// The 422 of a batch with bad records: it names every one, by index, including those whose
/// fields are well formed but refer to a record the caller cannot see, so that a client fixes
/// them all in one round.
async fn every_bad_record(
    store: &web::Data<Store>,
    res: &'static Resource,
    reach: Reach,
    parsed: Parsed,
) -> ApiError {
    let store = store.clone().into_inner();
    let checked = web::block(move || {
        store.read(|c| {
            let mut errors = Vec::new();
            for (i, record) in parsed.into_iter().enumerate() {
                match record {
                    Err(mut e) => errors.append(&mut e),
                    Ok(values) => {
                        match check_references(c, res, reach, &values, &format!("records[{i}].")) {
                            Ok(()) => {}
                            Err(ApiError::Validation(mut e)) => errors.append(&mut e),
                            Err(other) => return Ok(Err(other)),
                        }
                    }
                }
            }
            Ok(Ok(errors))
        })
    })
    .await;
    match checked {
        Ok(Ok(Ok(errors))) => ApiError::Validation(errors),
        Ok(Ok(Err(other))) => other,
        Ok(Err(e)) => e.into(),
        Err(e) => e.into(),
    }
}

/// The batch's records, or (when any is bad) each one's outcome; the batch's own shape
/// errors are the outer error.
fn parse_batch(
    res: &'static Resource,
    body: &serde_json::Value,
) -> Result<Result<Vec<Vec<Value>>, Parsed>, ApiError> {
    let fail = |msg: String| ApiError::Validation(vec![FieldError::new("records", msg)]);
    let obj = body.as_object().ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            "(body)",
            "must be an object like {\"records\": [...]}",
        )])
    })?;
    if let Some(k) = obj.keys().find(|k| *k != "records") {
        return Err(ApiError::Validation(vec![FieldError::new(
            k.as_str(),
            "is not a field of a batch",
        )]));
    }
    let records = obj
        .get("records")
        .and_then(|r| r.as_array())
        .ok_or_else(|| fail("is required and must be an array".into()))?;
    if records.is_empty() || records.len() > MAX_BATCH {
        return Err(fail(format!("must hold 1 to {MAX_BATCH} records")));
    }
    let parsed: Parsed = records
        .iter()
        .enumerate()
        .map(|(i, r)| res.validate_create(r, &format!("records[{i}].")))
        .collect();
    if parsed.iter().all(Result::is_ok) {
        Ok(Ok(parsed.into_iter().flatten().collect()))
    } else {
        Ok(Err(parsed))
    }
}
