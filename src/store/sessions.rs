//! The admin page's server-side sessions and first-run setup codes. Only digests of the
//! session ids and codes are stored.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreResult, parse_stored};
use crate::model::{AccountId, Role, UserId};

/// A new session's fields.
pub struct NewSession<'a> {
    /// SHA-256 of the cookie value.
    pub id_hash: &'a [u8; 32],
    /// Who signed in.
    pub user_id: UserId,
    /// The CSRF token the page must echo.
    pub csrf_token: &'a str,
    /// Absolute expiry (ms).
    pub expires_at: i64,
    /// Address it was created from.
    pub ip: &'a str,
    /// Browser, for the people who look at sessions.
    pub user_agent: Option<&'a str>,
}

/// Stores a session.
pub fn insert(conn: &Connection, s: &NewSession<'_>, now: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO admin_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, \
         user_agent) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
        params![&s.id_hash[..], s.user_id, s.csrf_token, now, s.expires_at, s.ip, s.user_agent],
    )?;
    Ok(())
}

/// A live session joined with its user and account, as each admin request needs it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their display name.
    pub name: Option<String>,
    /// Their role now (a demotion applies to open sessions at once).
    pub role: Role,
    /// Their account.
    pub account_id: AccountId,
    /// That account's name.
    pub account_name: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Last request (ms).
    pub last_seen_at: i64,
}

/// The session with this digest if it is still valid at `now` (absolute expiry, idle expiry
/// `idle_ms`) and its user is enabled and can still sign in.
pub fn find_live(
    conn: &Connection,
    id_hash: &[u8; 32],
    now: i64,
    idle_ms: i64,
) -> StoreResult<Option<SessionRow>> {
    let row = conn
        .prepare_cached(
            "SELECT u.id, u.email, u.name, u.role, a.id, a.name, s.csrf_token, s.last_seen_at \
             FROM admin_sessions s JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = u.account_id \
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND s.last_seen_at > ?2 - ?3 \
             AND u.disabled = 0 AND u.password_hash IS NOT NULL",
        )?
        .query_row(params![&id_hash[..], now, idle_ms], |r| {
            Ok((
                r.get::<_, UserId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, AccountId>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    row.map(
        |(user_id, email, name, role, account_id, account_name, csrf_token, last_seen_at)| {
            Ok(SessionRow {
                user_id,
                email,
                name,
                role: parse_stored(&role)?,
                account_id,
                account_name,
                csrf_token,
                last_seen_at,
            })
        },
    )
    .transpose()
}

/// Moves a session's idle clock forward.
pub fn touch(conn: &Connection, id_hash: &[u8; 32], now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id_hash = ?1",
        params![&id_hash[..], now],
    )?;
    Ok(())
}

/// Ends one session.
pub fn delete(conn: &Connection, id_hash: &[u8; 32]) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM admin_sessions WHERE id_hash = ?1",
        [&id_hash[..]],
    )?;
    Ok(())
}

/// Ends every session of a user (disabled, or their password changed).
pub fn delete_for_user(conn: &Connection, user: UserId) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM admin_sessions WHERE user_id = ?1", [user])?)
}

/// Forgets sessions that can no longer be used.
pub fn prune(conn: &Connection, now: i64, idle_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM admin_sessions WHERE expires_at <= ?1 OR last_seen_at <= ?1 - ?2",
        params![now, idle_ms],
    )?)
}

/// Stores a setup code, retiring every earlier unused one (only the newest address works).
pub fn insert_setup_code(
    conn: &Connection,
    code_hash: &[u8; 32],
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    conn.execute("DELETE FROM admin_setup_codes WHERE used_at IS NULL", [])?;
    conn.execute(
        "INSERT INTO admin_setup_codes (code_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
        params![&code_hash[..], now, expires_at],
    )?;
    Ok(())
}

/// Marks a setup code used if it is unused and unexpired; false otherwise.
pub fn use_setup_code(conn: &Connection, code_hash: &[u8; 32], now: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE admin_setup_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![&code_hash[..], now],
    )? == 1)
}
