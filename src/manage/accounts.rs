//! Accounts: create, change plan/status/allow-list/inactivity policy, list.

use std::time::Duration;

use rusqlite::Connection;

use super::{ManageError, ManageResult};
use crate::auth::allow_list;
use crate::clock;
use crate::model::{Plan, SubscriptionStatus};
use crate::store::accounts::{self, Account};

/// The account the first migration creates, which commands act on without `--account`
/// (CONTRACT.md) and where the first admin is made.
pub const DEFAULT: &str = "default";

/// Creates an account.
pub fn create(
    conn: &Connection,
    name: &str,
    plan: Plan,
    status: SubscriptionStatus,
) -> ManageResult<Account> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ManageError::Invalid(
            "an account name must be 1 to 100 characters".into(),
        ));
    }
    if accounts::find_by_name(conn, name)?.is_some() {
        return Err(ManageError::Conflict(format!(
            "an account named `{name}` already exists"
        )));
    }
    let id = accounts::insert(conn, name, plan, status, clock::now_ms())?;
    Ok(accounts::find_by_id(conn, id)?.expect("just inserted"))
}

/// What an update changes; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// New plan.
    pub plan: Option<Plan>,
    /// New status.
    pub status: Option<SubscriptionStatus>,
    /// New account-wide allow-list (replaces the whole list; empty clears it).
    pub allow_ips: Option<Vec<String>>,
    /// New inactivity policy (`Some(None)` turns it off).
    pub revoke_unused_after: Option<Option<Duration>>,
}

/// Finds an account by name, or says which name is unknown.
pub fn require(conn: &Connection, name: &str) -> ManageResult<Account> {
    accounts::find_by_name(conn, name)?
        .ok_or_else(|| ManageError::NotFound(format!("no account named `{name}`")))
}

/// Applies `changes` to the named account.
pub fn update(conn: &Connection, name: &str, changes: AccountChanges) -> ManageResult<Account> {
    let mut account = require(conn, name)?;
    if let Some(p) = changes.plan {
        account.plan = p;
    }
    if let Some(s) = changes.status {
        account.status = s;
    }
    if let Some(list) = changes.allow_ips {
        let nets = allow_list::parse_list(&list).map_err(ManageError::Invalid)?;
        account.allow_ips = nets.iter().map(ToString::to_string).collect();
    }
    if let Some(policy) = changes.revoke_unused_after {
        account.revoke_unused_after_s = policy.map(|d| d.as_secs() as i64);
    }
    accounts::update(conn, &account, clock::now_ms())?;
    Ok(account)
}
