//! The `api_tokens` table. Only the SHA-256 of a token is ever stored.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreResult, parse_stored, parse_string_list, string_list};
use crate::model::{AccountId, Plan, Role, SubscriptionStatus, TokenId, UserId};

/// A token as listed: everything but the hash.
#[derive(Debug, Clone)]
pub struct Token {
    /// Id.
    pub id: TokenId,
    /// Account.
    pub account_id: AccountId,
    /// Account name.
    pub account_name: String,
    /// Owner.
    pub user_id: UserId,
    /// Owner's email.
    pub user_email: String,
    /// Public prefix.
    pub prefix: String,
    /// Name.
    pub name: String,
    /// Scope bitmask.
    pub scopes: i64,
    /// Allow-list (CIDR strings).
    pub allow_ips: Vec<String>,
    /// Limits like `20/1s`; `None` means the server's defaults.
    pub limits: Option<Vec<String>>,
    /// Created (ms).
    pub created_at: i64,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// The token that replaced it in a rotation.
    pub replaced_by: Option<TokenId>,
    /// The token it replaced in a rotation.
    pub replaces: Option<TokenId>,
    /// A rotated token works until then.
    pub grace_until: Option<i64>,
    /// Last call (ms).
    pub last_used_at: Option<i64>,
    /// Caller IP of the last call.
    pub last_used_ip: Option<String>,
}

const SELECT: &str = "SELECT t.id, t.account_id, a.name, t.user_id, u.email, t.prefix, t.name, t.scopes, \
     t.allow_ips, t.limits, t.created_at, t.expires_at, t.revoked_at, t.revoked_reason, t.replaced_by, \
     (SELECT p.id FROM api_tokens p WHERE p.replaced_by = t.id), t.grace_until, t.last_used_at, t.last_used_ip \
     FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = t.account_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Token, String, Option<String>)> {
    let allow: String = r.get(8)?;
    let limits: Option<String> = r.get(9)?;
    Ok((
        Token {
            id: r.get(0)?,
            account_id: r.get(1)?,
            account_name: r.get(2)?,
            user_id: r.get(3)?,
            user_email: r.get(4)?,
            prefix: r.get(5)?,
            name: r.get(6)?,
            scopes: r.get(7)?,
            allow_ips: Vec::new(),
            limits: None,
            created_at: r.get(10)?,
            expires_at: r.get(11)?,
            revoked_at: r.get(12)?,
            revoked_reason: r.get(13)?,
            replaced_by: r.get(14)?,
            replaces: r.get(15)?,
            grace_until: r.get(16)?,
            last_used_at: r.get(17)?,
            last_used_ip: r.get(18)?,
        },
        allow,
        limits,
    ))
}

fn decode((mut t, allow, limits): (Token, String, Option<String>)) -> StoreResult<Token> {
    t.allow_ips = parse_string_list(&allow)?;
    t.limits = limits.as_deref().map(parse_string_list).transpose()?;
    Ok(t)
}

/// A token to insert.
pub struct NewToken<'a> {
    /// Account.
    pub account_id: AccountId,
    /// Owner.
    pub user_id: UserId,
    /// Public prefix.
    pub prefix: &'a str,
    /// SHA-256 of the whole token.
    pub hash: &'a [u8; 32],
    /// Name.
    pub name: &'a str,
    /// Scope bitmask.
    pub scopes: i64,
    /// Allow-list.
    pub allow_ips: &'a [String],
    /// Limits (`None`: defaults).
    pub limits: Option<&'a [String]>,
    /// Expiry.
    pub expires_at: Option<i64>,
}

/// Inserts a token.
pub fn insert(conn: &Connection, t: &NewToken<'_>, now: i64) -> StoreResult<TokenId> {
    conn.execute(
        "INSERT INTO api_tokens (account_id, user_id, prefix, token_hash, name, scopes, allow_ips, limits, \
         created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.account_id,
            t.user_id,
            t.prefix,
            &t.hash[..],
            t.name,
            t.scopes,
            string_list(t.allow_ips),
            t.limits.map(string_list),
            now,
            t.expires_at
        ],
    )?;
    Ok(TokenId(conn.last_insert_rowid()))
}

/// True when a prefix is taken (a new token retries with another).
pub fn prefix_exists(conn: &Connection, prefix: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM api_tokens WHERE prefix = ?1",
            [prefix],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Finds a token by numeric id or by prefix.
pub fn find(conn: &Connection, id_or_prefix: &str) -> StoreResult<Option<Token>> {
    let row = match id_or_prefix.parse::<i64>() {
        Ok(id) if id_or_prefix.len() < 8 => conn
            .query_row(&format!("{SELECT} WHERE t.id = ?1"), [id], from_row)
            .optional()?,
        _ => conn
            .query_row(
                &format!("{SELECT} WHERE t.prefix = ?1"),
                [id_or_prefix],
                from_row,
            )
            .optional()?,
    };
    row.map(decode).transpose()
}

/// Finds a token by id.
pub fn find_by_id(conn: &Connection, id: TokenId) -> StoreResult<Option<Token>> {
    let row = conn
        .query_row(&format!("{SELECT} WHERE t.id = ?1"), [id], from_row)
        .optional()?;
    row.map(decode).transpose()
}

/// Tokens, optionally of one account and/or one user, newest first.
pub fn list(
    conn: &Connection,
    account: Option<AccountId>,
    user: Option<UserId>,
) -> StoreResult<Vec<Token>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE (?1 IS NULL OR t.account_id = ?1) AND (?2 IS NULL OR t.user_id = ?2) ORDER BY t.id DESC"
    ))?;
    let rows = stmt
        .query_map(params![account, user], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Writes back name, expiry, allow-list and limits.
pub fn update(conn: &Connection, t: &Token) -> StoreResult<()> {
    conn.execute(
        // A changed expiry may deserve a new expiring-soon warning.
        "UPDATE api_tokens SET name = ?2, allow_ips = ?4, limits = ?5, \
         expiry_warned_at = CASE WHEN expires_at IS ?3 THEN expiry_warned_at ELSE NULL END, expires_at = ?3 \
         WHERE id = ?1",
        params![t.id, t.name, t.expires_at, string_list(&t.allow_ips), t.limits.as_deref().map(string_list)],
    )?;
    Ok(())
}

/// Revokes a token now, keeping the first revocation's time and reason.
pub fn revoke(conn: &Connection, id: TokenId, reason: &str, now: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE api_tokens SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now, reason],
    )? == 1)
}

/// Revokes every live token of a user or an account; returns the ids revoked.
pub fn revoke_all(
    conn: &Connection,
    account: Option<AccountId>,
    user: Option<UserId>,
    reason: &str,
    now: i64,
) -> StoreResult<Vec<TokenId>> {
    let mut stmt = conn.prepare(
        "UPDATE api_tokens SET revoked_at = ?3, revoked_reason = ?4 \
         WHERE revoked_at IS NULL AND (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR user_id = ?2) RETURNING id",
    )?;
    let ids = stmt
        .query_map(params![account, user, now, reason], |r| r.get(0))?
        .collect::<Result<Vec<TokenId>, _>>()?;
    Ok(ids)
}

/// Marks `old` as replaced by `new`; it keeps working until `grace_until`.
pub fn mark_rotated(
    conn: &Connection,
    old: TokenId,
    new: TokenId,
    grace_until: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE api_tokens SET replaced_by = ?2, grace_until = ?3 WHERE id = ?1",
        params![old, new, grace_until],
    )?;
    Ok(())
}

/// Everything the request guard needs about a token, its user and its account.
#[derive(Debug, Clone)]
pub struct AuthRow {
    /// Token id.
    pub token_id: TokenId,
    /// Prefix.
    pub prefix: String,
    /// Token name.
    pub name: String,
    /// Token scopes.
    pub scopes: i64,
    /// Token allow-list.
    pub allow_ips: Vec<String>,
    /// Token limits (`None`: defaults).
    pub limits: Option<Vec<String>>,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Revocation.
    pub revoked_at: Option<i64>,
    /// End of a rotation's grace period.
    pub grace_until: Option<i64>,
    /// User.
    pub user_id: UserId,
    /// User email.
    pub user_email: String,
    /// User role.
    pub role: Role,
    /// User permissions.
    pub permissions: i64,
    /// User disabled.
    pub user_disabled: bool,
    /// Account.
    pub account_id: AccountId,
    /// Account name.
    pub account_name: String,
    /// Plan.
    pub plan: Plan,
    /// Subscription status.
    pub status: SubscriptionStatus,
    /// Account allow-list.
    pub account_allow_ips: Vec<String>,
}

/// One indexed lookup by hash, joined with the user and the account.
pub fn find_auth_by_hash(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<AuthRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.prefix, t.name, t.scopes, t.allow_ips, t.limits, t.expires_at, t.revoked_at, t.grace_until, \
         u.id, u.email, u.role, u.permissions, u.disabled, a.id, a.name, a.plan, a.status, a.allow_ips \
         FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.account_id \
         WHERE t.token_hash = ?1",
    )?;
    let raw = stmt
        .query_row([&hash[..]], |r| {
            Ok((
                (
                    r.get::<_, TokenId>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ),
                (r.get::<_, String>(4)?, r.get::<_, Option<String>>(5)?),
                (
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                ),
                (
                    r.get::<_, UserId>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, String>(11)?,
                ),
                (r.get::<_, i64>(12)?, r.get::<_, bool>(13)?),
                (
                    r.get::<_, AccountId>(14)?,
                    r.get::<_, String>(15)?,
                    r.get::<_, String>(16)?,
                ),
                (r.get::<_, String>(17)?, r.get::<_, String>(18)?),
            ))
        })
        .optional()?;
    let Some((
        (token_id, prefix, name, scopes),
        (allow, limits),
        (expires_at, revoked_at, grace_until),
        (user_id, user_email, role),
        (permissions, user_disabled),
        (account_id, account_name, plan),
        (status, account_allow),
    )) = raw
    else {
        return Ok(None);
    };
    Ok(Some(AuthRow {
        token_id,
        prefix,
        name,
        scopes,
        allow_ips: parse_string_list(&allow)?,
        limits: limits.as_deref().map(parse_string_list).transpose()?,
        expires_at,
        revoked_at,
        grace_until,
        user_id,
        user_email,
        role: parse_stored(&role)?,
        permissions,
        user_disabled,
        account_id,
        account_name,
        plan: parse_stored(&plan)?,
        status: parse_stored(&status)?,
        account_allow_ips: parse_string_list(&account_allow)?,
    }))
}

/// Stamps last-used time and IP, never moving the time backwards.
pub fn stamp_last_used(conn: &Connection, id: TokenId, at: i64, ip: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE api_tokens SET last_used_at = ?2, last_used_ip = ?3 \
         WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2)",
    )?
    .execute(params![id, at, ip])?;
    Ok(())
}

/// Live tokens of accounts with an inactivity policy, unused (or never used) for longer
/// than the policy allows at `now`.
pub fn unused_beyond_policy(conn: &Connection, now: i64) -> StoreResult<Vec<(TokenId, AccountId)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.account_id FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.revoked_at IS NULL AND a.revoke_unused_after_s IS NOT NULL \
         AND COALESCE(t.last_used_at, t.created_at) < ?1 - a.revoke_unused_after_s * 1000",
    )?;
    let rows = stmt
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Live tokens expiring within `within_ms` that have not been warned about yet; marks them warned.
pub fn take_expiring_soon(
    conn: &Connection,
    now: i64,
    within_ms: i64,
) -> StoreResult<Vec<TokenId>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE api_tokens SET expiry_warned_at = ?1 WHERE revoked_at IS NULL AND expiry_warned_at IS NULL \
         AND expires_at IS NOT NULL AND expires_at > ?1 AND expires_at <= ?1 + ?2 RETURNING id",
    )?;
    let rows = stmt
        .query_map(params![now, within_ms], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
