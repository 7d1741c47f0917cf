//! `GET /admin/api/audit`: the account's recent API calls, newest first, with filters
//! (admins only).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::read;
use super::session::AdminSession;
use crate::clock;
use crate::error::ApiError;
use crate::model::{TokenId, UserId};
use crate::resources::FieldError;
use crate::store::Store;
use crate::store::audit::{self, AuditEntry, AuditFilter};

/// An entry as the page shows it: the instant in RFC 3339.
pub fn entry_json(e: &AuditEntry) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["at"] = json!(clock::format_ms(e.at));
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    token_id: Option<i64>,
    user_id: Option<i64>,
    status: Option<u16>,
    since: Option<String>,
    until: Option<String>,
    before_id: Option<i64>,
    limit: Option<u32>,
}

fn instant(field: &str, s: Option<&str>) -> Result<Option<i64>, ApiError> {
    s.map(|t| {
        clock::parse_rfc3339(t).ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                field,
                format!("`{t}` is not an RFC 3339 time"),
            )])
        })
    })
    .transpose()
}

/// `GET /admin/api/audit`
pub async fn list(
    who: AdminSession,
    q: web::Query<AuditQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "must be from 1 to 200",
        )]));
    }
    let filter = AuditFilter {
        account: Some(who.account_id()),
        token: q.token_id.map(TokenId),
        user: q.user_id.map(UserId),
        status: q.status,
        since: instant("since", q.since.as_deref())?,
        until: instant("until", q.until.as_deref())?,
        before_id: q.before_id,
        limit,
    };
    let rows = read(&store, move |c| Ok(audit::list(c, &filter)?)).await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({
        "data": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "next_before_id": next,
    })))
}
