//! `Idempotency-Key` on POSTs: the first 2xx answer is stored with a hash of the request in
//! the same transaction as the change; a retry within 24 h in the same account gets that
//! answer again and changes nothing. A key whose first request is still running is refused
//! (409); the same key with another request, or from another user of the account, is refused
//! (422): the answer may hold a record only its own user can read.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::body::invalid_json;
use crate::auth::Caller;
use crate::clock;
use crate::error::ApiError;
use crate::model::{AccountId, UserId};
use crate::resources::FieldError;
use crate::store::idempotency::{self, StoredAnswer};
use crate::store::{Store, StoreResult};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// Keys in flight at once, across the server: beyond this, new keyed POSTs wait their turn.
const MAX_IN_FLIGHT: usize = 10_000;

/// The keys whose first request is being processed right now.
#[derive(Debug, Default)]
pub struct InFlightKeys {
    keys: Mutex<HashSet<(AccountId, String)>>,
}

/// What to do with a POST.
pub enum Begin {
    /// Go ahead; store the answer through the guard's [`PendingKey`].
    Proceed(KeyGuard),
    /// The first answer, sent again.
    Replay(HttpResponse),
}

/// Holds a key in flight until dropped (answered, failed or cancelled alike).
pub struct KeyGuard {
    claim: Option<(Arc<InFlightKeys>, PendingKey)>,
}

impl KeyGuard {
    /// The key to store the answer under, when the request carried one.
    pub fn pending(&self) -> Option<PendingKey> {
        self.claim.as_ref().map(|(_, k)| k.clone())
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Some((set, k)) = self.claim.take() {
            set.keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(k.account, k.key));
        }
    }
}

/// A key and the hash of its request, to store the answer with inside the write.
#[derive(Debug, Clone)]
pub struct PendingKey {
    account: AccountId,
    user: UserId,
    key: String,
    hash: Vec<u8>,
}

impl PendingKey {
    /// Stores a 2xx answer (its status, `Location` and JSON body) in the change's transaction.
    pub fn store(
        &self,
        tx: &Connection,
        status: u16,
        location: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()> {
        let headers = match location {
            Some(l) => serde_json::json!({ "location": l }),
            None => serde_json::json!({}),
        };
        let answer = StoredAnswer {
            request_hash: self.hash.clone(),
            user_id: Some(self.user),
            status,
            headers: headers.to_string(),
            body: body.to_vec(),
        };
        let now = clock::now_ms();
        idempotency::insert(
            tx,
            self.account,
            &self.key,
            &answer,
            now - idempotency::TTL_MS,
            now,
        )
    }
}

/// The request's body as its handler has it, for the hash a key is stored with.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// Not parsed into a `Value` (a single create reads its columns straight from it).
    Raw(&'a [u8]),
    /// Parsed already (a batch): not parsed again.
    Parsed(&'a Value),
}

/// Reads the key (quoted or bare), claims it, and looks for a stored answer to a request of
/// the caller's user in the caller's account.
pub async fn begin(
    req: &HttpRequest,
    caller: &Caller,
    body: Body<'_>,
    store: &web::Data<Store>,
    in_flight: &web::Data<InFlightKeys>,
) -> Result<Begin, ApiError> {
    let Some(key) = parse_key(req)? else {
        return Ok(Begin::Proceed(KeyGuard { claim: None }));
    };
    let (account, user) = (caller.token.account_id, caller.token.user_id);
    let hash = request_hash(req, body)?;
    {
        let mut keys = in_flight.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.contains(&(account, key.clone())) {
            return Err(ApiError::IdempotencyKeyInFlight);
        }
        if keys.len() >= MAX_IN_FLIGHT {
            return Err(ApiError::Unavailable(
                "too many requests with an Idempotency-Key in flight".into(),
            ));
        }
        keys.insert((account, key.clone()));
    }
    let guard = KeyGuard {
        claim: Some((
            in_flight.clone().into_inner(),
            PendingKey {
                account,
                user,
                key: key.clone(),
                hash: hash.clone(),
            },
        )),
    };
    let store = store.clone().into_inner();
    let since = clock::now_ms() - idempotency::TTL_MS;
    let stored =
        web::block(move || store.read(|c| idempotency::find(c, account, &key, since))).await??;
    match stored {
        None => Ok(Begin::Proceed(guard)),
        Some(answer) if answer.request_hash == hash && answer.user_id.is_none_or(|u| u == user) => {
            Ok(Begin::Replay(replay(&answer)))
        }
        Some(_) => Err(ApiError::IdempotencyKeyReused),
    }
}

fn parse_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let bad = |msg: &str| ApiError::Validation(vec![FieldError::new("Idempotency-Key", msg)]);
    let mut values = req.headers().get_all(HEADER);
    let Some(raw) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("must be sent once"));
    }
    let raw = raw
        .to_str()
        .map_err(|_| bad("must be visible ASCII"))?
        .trim();
    // A structured-field string ("...") or a bare token.
    let key = match raw.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|k| !k.contains(['"', '\\']))
            .ok_or_else(|| bad("has an unterminated quote"))?,
        None => raw,
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(bad("must be 1 to 255 characters"));
    }
    if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad("must be visible ASCII"));
    }
    Ok(Some(key.to_owned()))
}

/// SHA-256 of the method, the path and the body (as parsed, so whitespace and the order of
/// keys do not matter). A raw body is parsed for it only here, when a key was sent.
fn request_hash(req: &HttpRequest, body: Body<'_>) -> Result<Vec<u8>, ApiError> {
    let canonical = match body {
        Body::Raw(bytes) => serde_json::from_slice::<Value>(bytes)
            .map_err(invalid_json)?
            .to_string(),
        Body::Parsed(value) => value.to_string(),
    };
    let mut h = Sha256::new();
    h.update(req.method().as_str().as_bytes());
    h.update(b"\n");
    h.update(req.path().as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    Ok(h.finalize().to_vec())
}

fn replay(answer: &StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((CONTENT_TYPE, "application/json"))
        .insert_header(("idempotent-replayed", "true"));
    let headers: serde_json::Map<String, Value> =
        serde_json::from_str(&answer.headers).unwrap_or_default();
    if let Some(Value::String(l)) = headers.get("location") {
        resp.insert_header((LOCATION, l.as_str()));
    }
    resp.body(answer.body.clone())
}
