//! API tokens: create, update, revoke (one or all), rotate. The rules live here once.

use std::time::Duration;

use rusqlite::Connection;

use super::views::TokenView;
use super::{ManageError, ManageResult, accounts, users};
use crate::auth::rate_limit::Limit;
use crate::auth::scope::{ALL_SCOPES, ScopeSet};
use crate::auth::{allow_list, token};
use crate::clock;
use crate::model::{AccountId, UserId};
use crate::store::tokens::{self as store, NewToken, Token};
use crate::webhooks::events;

/// When a token expires.
#[derive(Debug, Clone, Copy)]
pub enum Expiry {
    /// Never.
    Never,
    /// This long from now.
    In(Duration),
    /// At this instant (ms).
    At(i64),
}

impl Expiry {
    fn resolve(self, now: i64) -> ManageResult<Option<i64>> {
        match self {
            Expiry::Never => Ok(None),
            Expiry::In(d) => Ok(Some(now + d.as_millis() as i64)),
            Expiry::At(t) if t > now => Ok(Some(t)),
            Expiry::At(_) => Err(ManageError::Invalid(
                "the expiry must be in the future".into(),
            )),
        }
    }
}

/// A token to create.
#[derive(Debug)]
pub struct TokenInput {
    /// Owner's email.
    pub user_email: String,
    /// Name, for people.
    pub name: String,
    /// Scopes (at least one, each within the user's permissions).
    pub scopes: Vec<String>,
    /// Expiry.
    pub expiry: Expiry,
    /// Allow-list (CIDR strings).
    pub allow_ips: Vec<String>,
    /// Limits like `20/1s`; `None` for the server defaults.
    pub limits: Option<Vec<String>>,
}

/// A created token: the plaintext exists only here.
pub struct Created {
    /// The stored token.
    pub token: Token,
    /// The whole token, shown once.
    pub plaintext: String,
}

fn check_name(name: &str) -> ManageResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ManageError::Invalid(
            "a token name must be 1 to 100 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn normalise_allow_ips(list: &[String]) -> ManageResult<Vec<String>> {
    let nets = allow_list::parse_list(list).map_err(ManageError::Invalid)?;
    Ok(nets.iter().map(ToString::to_string).collect())
}

fn normalise_limits(list: &[String]) -> ManageResult<Vec<String>> {
    let limits = Limit::parse_list(list).map_err(ManageError::Invalid)?;
    if limits.is_empty() {
        return Err(ManageError::Invalid(
            "give at least one limit, or use the defaults".into(),
        ));
    }
    Ok(limits.iter().map(ToString::to_string).collect())
}

/// The scope rule, in one place: at least one scope, all known, all within the user's permissions.
fn check_scopes(names: &[String], permissions: ScopeSet) -> ManageResult<ScopeSet> {
    let set = ScopeSet::parse(names.iter().map(String::as_str)).map_err(|bad| {
        ManageError::Invalid(format!(
            "`{bad}` is not a scope; scopes are: {}",
            ALL_SCOPES.join(" ")
        ))
    })?;
    if set.is_empty() {
        return Err(ManageError::Invalid(
            "a token needs at least one scope".into(),
        ));
    }
    let beyond = set.minus(permissions);
    if !beyond.is_empty() {
        return Err(ManageError::Invalid(format!(
            "the user lacks the permission for: {}",
            beyond.names().join(" ")
        )));
    }
    Ok(set)
}

fn mint(
    conn: &Connection,
    account: AccountId,
    user: UserId,
    spec: &NewTokenSpec<'_>,
) -> ManageResult<Created> {
    let now = clock::now_ms();
    // A prefix collision is astronomically rare, but the column is unique: try again.
    let new = loop {
        let t = token::generate();
        if !store::prefix_exists(conn, &t.prefix)? {
            break t;
        }
    };
    let id = store::insert(
        conn,
        &NewToken {
            account_id: account,
            user_id: user,
            prefix: &new.prefix,
            hash: &new.hash,
            name: spec.name,
            scopes: spec.scopes.bits(),
            allow_ips: spec.allow_ips,
            limits: spec.limits,
            expires_at: spec.expires_at,
        },
        now,
    )?;
    let token = store::find_by_id(conn, id)?.expect("just inserted");
    events::enqueue(conn, account, "token.created", TokenView::new(&token, None))?;
    Ok(Created {
        token,
        plaintext: new.plaintext,
    })
}

struct NewTokenSpec<'a> {
    name: &'a str,
    scopes: ScopeSet,
    allow_ips: &'a [String],
    limits: Option<&'a [String]>,
    expires_at: Option<i64>,
}

/// Creates a token for a user.
pub fn create(conn: &Connection, input: TokenInput) -> ManageResult<Created> {
    let user = users::require(conn, &input.user_email)?;
    if user.disabled {
        return Err(ManageError::Invalid(format!(
            "user `{}` is disabled",
            user.email
        )));
    }
    let name = check_name(&input.name)?;
    let scopes = check_scopes(&input.scopes, ScopeSet::from_bits(user.permissions))?;
    let allow_ips = normalise_allow_ips(&input.allow_ips)?;
    let limits = input.limits.as_deref().map(normalise_limits).transpose()?;
    let expires_at = input.expiry.resolve(clock::now_ms())?;
    let spec = NewTokenSpec {
        name: &name,
        scopes,
        allow_ips: &allow_ips,
        limits: limits.as_deref(),
        expires_at,
    };
    mint(conn, user.account_id, user.id, &spec)
}

/// Finds a token by id or prefix.
pub fn require(conn: &Connection, id_or_prefix: &str) -> ManageResult<Token> {
    store::find(conn, id_or_prefix.trim())?.ok_or_else(|| {
        ManageError::NotFound(format!("no token with id or prefix `{id_or_prefix}`"))
    })
}

/// What an update changes; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct TokenChanges {
    /// New name.
    pub name: Option<String>,
    /// New expiry.
    pub expiry: Option<Expiry>,
    /// New allow-list (replaces the list).
    pub allow_ips: Option<Vec<String>>,
    /// New limits (`Some(None)`: back to the defaults).
    pub limits: Option<Option<Vec<String>>>,
}

/// Applies `changes` to a token.
pub fn update(conn: &Connection, id_or_prefix: &str, changes: TokenChanges) -> ManageResult<Token> {
    let mut t = require(conn, id_or_prefix)?;
    if let Some(n) = &changes.name {
        t.name = check_name(n)?;
    }
    if let Some(e) = changes.expiry {
        t.expires_at = e.resolve(clock::now_ms())?;
    }
    if let Some(list) = &changes.allow_ips {
        t.allow_ips = normalise_allow_ips(list)?;
    }
    if let Some(limits) = &changes.limits {
        t.limits = limits.as_deref().map(normalise_limits).transpose()?;
    }
    store::update(conn, &t)?;
    Ok(store::find_by_id(conn, t.id)?.expect("exists"))
}

/// Revokes a token at once.
pub fn revoke(conn: &Connection, id_or_prefix: &str, reason: &str) -> ManageResult<Token> {
    let t = require(conn, id_or_prefix)?;
    if store::revoke(conn, t.id, reason, clock::now_ms())? {
        let revoked = store::find_by_id(conn, t.id)?.expect("exists");
        events::enqueue(
            conn,
            t.account_id,
            "token.revoked",
            TokenView::new(&revoked, None),
        )?;
        return Ok(revoked);
    }
    Err(ManageError::Conflict(format!(
        "token {} is already revoked",
        t.prefix
    )))
}

/// Whose tokens `revoke_all` revokes.
#[derive(Debug)]
pub enum Everyone {
    /// One user's (by email).
    User(String),
    /// One account's (by name).
    Account(String),
}

/// Revokes every live token of a user or an account, in the caller's one transaction.
pub fn revoke_all(conn: &Connection, whose: &Everyone, reason: &str) -> ManageResult<Vec<Token>> {
    let (account, user) = match whose {
        Everyone::User(email) => {
            let u = users::require(conn, email)?;
            (None, Some(u.id))
        }
        Everyone::Account(name) => (Some(accounts::require(conn, name)?.id), None),
    };
    let ids = store::revoke_all(conn, account, user, reason, clock::now_ms())?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let t = store::find_by_id(conn, id)?.expect("exists");
        events::enqueue(
            conn,
            t.account_id,
            "token.revoked",
            TokenView::new(&t, None),
        )?;
        out.push(t);
    }
    Ok(out)
}

/// Replaces a token by a new one with the same name, user, scopes, allow-list, limits and
/// expiry; the old one works for `grace` more (none by default).
pub fn rotate(
    conn: &Connection,
    id_or_prefix: &str,
    grace: Option<Duration>,
) -> ManageResult<Created> {
    let old = require(conn, id_or_prefix)?;
    let now = clock::now_ms();
    if old.revoked_at.is_some() || old.replaced_by.is_some() {
        return Err(ManageError::Conflict(format!(
            "token {} is revoked or already rotated",
            old.prefix
        )));
    }
    if old.expires_at.is_some_and(|t| t <= now) {
        return Err(ManageError::Conflict(format!(
            "token {} has expired; create a new one",
            old.prefix
        )));
    }
    let user = users::find_by_id_required(conn, old.user_id)?;
    let scopes = ScopeSet::from_bits(old.scopes).intersect(ScopeSet::from_bits(user.permissions));
    if scopes.is_empty() || user.disabled {
        return Err(ManageError::Invalid(
            "the token's user can no longer hold any of its scopes".into(),
        ));
    }
    let spec = NewTokenSpec {
        name: &old.name,
        scopes,
        allow_ips: &old.allow_ips,
        limits: old.limits.as_deref(),
        expires_at: old.expires_at,
    };
    let mut created = mint(conn, old.account_id, old.user_id, &spec)?;
    let grace_ms = grace.map_or(0, |g| g.as_millis() as i64);
    store::mark_rotated(conn, old.id, created.token.id, now + grace_ms)?;
    created.token = store::find_by_id(conn, created.token.id)?.expect("just inserted");
    if grace_ms == 0 {
        store::revoke(conn, old.id, "rotated", now)?;
        let revoked = store::find_by_id(conn, old.id)?.expect("exists");
        events::enqueue(
            conn,
            old.account_id,
            "token.revoked",
            TokenView::new(&revoked, None),
        )?;
    }
    Ok(created)
}

/// Revokes live tokens unused for longer than their account's inactivity policy allows.
pub fn revoke_unused(conn: &Connection, now: i64) -> ManageResult<Vec<Token>> {
    let mut out = Vec::new();
    for (id, account) in store::unused_beyond_policy(conn, now)? {
        if store::revoke(conn, id, "inactivity", now)? {
            let t = store::find_by_id(conn, id)?.expect("exists");
            events::enqueue(conn, account, "token.revoked", TokenView::new(&t, None))?;
            out.push(t);
        }
    }
    Ok(out)
}

/// Warns, once per token, about tokens expiring within seven days (`token.expiring_soon`).
pub fn warn_expiring(conn: &Connection, now: i64) -> ManageResult<usize> {
    let ids = store::take_expiring_soon(conn, now, 7 * 86_400_000)?;
    for id in &ids {
        let t = store::find_by_id(conn, *id)?.expect("exists");
        events::enqueue(
            conn,
            t.account_id,
            "token.expiring_soon",
            TokenView::new(&t, None),
        )?;
    }
    Ok(ids.len())
}
