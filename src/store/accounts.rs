//! The `accounts` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreResult, parse_stored, parse_string_list, string_list};
use crate::model::{AccountId, Plan, SubscriptionStatus};

/// An account as stored.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Unique name (`default` for the first).
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Subscription status.
    pub status: SubscriptionStatus,
    /// Account-wide allow-list, as CIDR strings.
    pub allow_ips: Vec<String>,
    /// Inactivity policy in seconds, if any.
    pub revoke_unused_after_s: Option<i64>,
    /// Creation time (ms).
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, plan, status, allow_ips, revoke_unused_after_s, created_at";

/// The columns as read, before the text columns are decoded.
struct RawAccount {
    id: AccountId,
    name: String,
    plan: String,
    status: String,
    allow_ips: String,
    revoke_unused_after_s: Option<i64>,
    created_at: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawAccount> {
    Ok(RawAccount {
        id: r.get(0)?,
        name: r.get(1)?,
        plan: r.get(2)?,
        status: r.get(3)?,
        allow_ips: r.get(4)?,
        revoke_unused_after_s: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn decode(raw: RawAccount) -> StoreResult<Account> {
    Ok(Account {
        id: raw.id,
        name: raw.name,
        plan: parse_stored(&raw.plan)?,
        status: parse_stored(&raw.status)?,
        allow_ips: parse_string_list(&raw.allow_ips)?,
        revoke_unused_after_s: raw.revoke_unused_after_s,
        created_at: raw.created_at,
    })
}

/// Inserts a new account.
pub fn insert(
    conn: &Connection,
    name: &str,
    plan: Plan,
    status: SubscriptionStatus,
    now: i64,
) -> StoreResult<AccountId> {
    conn.execute(
        "INSERT INTO accounts (name, plan, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![name, plan.as_str(), status.as_str(), now],
    )?;
    Ok(AccountId(conn.last_insert_rowid()))
}

/// Finds an account by name.
pub fn find_by_name(conn: &Connection, name: &str) -> StoreResult<Option<Account>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM accounts WHERE name = ?1"),
            [name],
            from_row,
        )
        .optional()?;
    row.map(decode).transpose()
}

/// Finds an account by id.
pub fn find_by_id(conn: &Connection, id: AccountId) -> StoreResult<Option<Account>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?;
    row.map(decode).transpose()
}

/// Every account, by name.
pub fn list(conn: &Connection) -> StoreResult<Vec<Account>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM accounts ORDER BY name"))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Writes back the mutable fields of `a`.
pub fn update(conn: &Connection, a: &Account, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE accounts SET plan = ?2, status = ?3, allow_ips = ?4, revoke_unused_after_s = ?5, updated_at = ?6 \
         WHERE id = ?1",
        params![a.id, a.plan.as_str(), a.status.as_str(), string_list(&a.allow_ips), a.revoke_unused_after_s, now],
    )?;
    Ok(())
}
