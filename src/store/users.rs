//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreResult, parse_stored};
use crate::model::{AccountId, Role, UserId};

/// A user as stored (without the password hash).
#[derive(Debug, Clone)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// Name of that account.
    pub account_name: String,
    /// Unique email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Role.
    pub role: Role,
    /// Permission bitmask (scopes).
    pub permissions: i64,
    /// Disabled users' tokens stop working.
    pub disabled: bool,
    /// Whether a password is set (it can sign in to the admin page).
    pub has_password: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

const SELECT: &str = "SELECT u.id, u.account_id, a.name, u.email, u.name, u.role, u.permissions, u.disabled, \
                      u.password_hash IS NOT NULL, u.created_at FROM users u JOIN accounts a ON a.id = u.account_id";

type RawUser = (
    UserId,
    AccountId,
    String,
    String,
    Option<String>,
    String,
    i64,
    bool,
    bool,
    i64,
);

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawUser> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode(raw: RawUser) -> StoreResult<User> {
    let (
        id,
        account_id,
        account_name,
        email,
        name,
        role,
        permissions,
        disabled,
        has_password,
        created_at,
    ) = raw;
    Ok(User {
        id,
        account_id,
        account_name,
        email,
        name,
        role: parse_stored(&role)?,
        permissions,
        disabled,
        has_password,
        created_at,
    })
}

/// A new user's fields.
pub struct NewUser<'a> {
    /// Account.
    pub account_id: AccountId,
    /// Email (unique, case-insensitive).
    pub email: &'a str,
    /// Display name.
    pub name: Option<&'a str>,
    /// Role.
    pub role: Role,
    /// Permission bitmask.
    pub permissions: i64,
    /// Argon2id PHC string, if a password is set.
    pub password_hash: Option<&'a str>,
}

/// Inserts a user.
pub fn insert(conn: &Connection, u: &NewUser<'_>, now: i64) -> StoreResult<UserId> {
    conn.execute(
        "INSERT INTO users (account_id, email, name, role, permissions, password_hash, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![u.account_id, u.email, u.name, u.role.as_str(), u.permissions, u.password_hash, now],
    )?;
    Ok(UserId(conn.last_insert_rowid()))
}

/// True when an email is taken (case-insensitive).
pub fn email_exists(conn: &Connection, email: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM users WHERE email = ?1", [email], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Finds a user by email (case-insensitive).
pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<User>> {
    let row = conn
        .query_row(&format!("{SELECT} WHERE u.email = ?1"), [email], from_row)
        .optional()?;
    row.map(decode).transpose()
}

/// Finds a user by id.
pub fn find_by_id(conn: &Connection, id: UserId) -> StoreResult<Option<User>> {
    let row = conn
        .query_row(&format!("{SELECT} WHERE u.id = ?1"), [id], from_row)
        .optional()?;
    row.map(decode).transpose()
}

/// Users of one account, or of all accounts.
pub fn list(conn: &Connection, account: Option<AccountId>) -> StoreResult<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE (?1 IS NULL OR u.account_id = ?1) ORDER BY a.name, u.email"
    ))?;
    let rows = stmt
        .query_map([account], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Writes back role, permissions, disabled flag and name.
pub fn update(conn: &Connection, u: &User, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET role = ?2, permissions = ?3, disabled = ?4, name = ?5, updated_at = ?6 WHERE id = ?1",
        params![u.id, u.role.as_str(), u.permissions, u.disabled, u.name, now],
    )?;
    Ok(())
}

/// Sets the password hash.
pub fn set_password_hash(conn: &Connection, id: UserId, hash: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, hash, now],
    )?;
    Ok(())
}

/// The stored password hash of an enabled user, by email, for signing in.
pub fn password_hash(conn: &Connection, email: &str) -> StoreResult<Option<(UserId, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE email = ?1 AND disabled = 0 AND password_hash IS NOT NULL",
            [email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// True when at least one admin exists (any account).
pub fn any_admin(conn: &Connection) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM users WHERE role = 'admin' LIMIT 1",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Enabled admins of an account.
pub fn count_enabled_admins(conn: &Connection, account: AccountId) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE account_id = ?1 AND role = 'admin' AND disabled = 0",
        [account],
        |r| r.get(0),
    )?)
}
