//! `/admin/api/account`: the business's plan and subscription, what they mean for the API,
//! and the account-wide allow-list (admins only).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::body;
use super::session::AdminSession;
use super::{change, read};
use crate::auth::AuthState;
use crate::error::ApiError;
use crate::manage::accounts::{self as manage_accounts, AccountChanges};
use crate::manage::views::AccountView;
use crate::model::{self, ApiAccessDenied};
use crate::store::Store;
use crate::store::accounts::{self as store_accounts, Account};

/// What the plan and status mean for API calls, in plain words.
fn consequence(a: &Account) -> &'static str {
    match model::api_access(a.plan, a.status) {
        Ok(()) => "API tokens work: calls to /api/v1 are answered.",
        Err(ApiAccessDenied::SubscriptionInactive) => {
            "The subscription is not active, so every API call is refused (402 \
             subscription_inactive) until it is active again. Tokens are kept."
        }
        Err(ApiAccessDenied::PlanUpgradeRequired) => {
            "This plan does not include API access, so every API call is refused (402 \
             plan_upgrade_required). Move to the pro plan to use tokens."
        }
    }
}

fn account_json(a: &Account) -> serde_json::Value {
    let mut v = serde_json::to_value(AccountView::from(a)).unwrap_or_default();
    v["api_consequence"] = json!(consequence(a));
    v
}

/// `GET /admin/api/account`
pub async fn show(who: AdminSession, store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let id = who.account_id();
    let a = read(&store, move |c| Ok(store_accounts::find_by_id(c, id)?))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(account_json(&a)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    allow_ips: Vec<String>,
}

/// `PATCH /admin/api/account`: the account-wide allow-list (empty: calls from anywhere). Plan
/// and status are the operator's (`switchboard account update`), not the page's.
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let b: AccountPatch = body::parse(&req, payload).await?;
    let name = who.who.account_name.clone();
    let a = change(&store, &auth, "allow_ips", move |c| {
        manage_accounts::update(
            c,
            &name,
            AccountChanges {
                allow_ips: Some(b.allow_ips),
                ..AccountChanges::default()
            },
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(account_json(&a)))
}
