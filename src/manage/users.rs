//! Users: add, change role/permissions/password, enable/disable, list.

use rusqlite::Connection;

use super::{ManageError, ManageResult, accounts, check_email};
use crate::auth::password;
use crate::auth::scope::ScopeSet;
use crate::clock;
use crate::model::Role;
use crate::store::users::{self, NewUser, User};

/// A user to add.
#[derive(Debug)]
pub struct UserInput {
    /// Email (unique).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Role (default agent: least privilege).
    pub role: Role,
    /// Account name.
    pub account: String,
    /// Permissions; `None` means all eight.
    pub permissions: Option<Vec<String>>,
    /// Password, if one is set now.
    pub password: Option<String>,
}

fn parse_permissions(names: &[String]) -> ManageResult<ScopeSet> {
    ScopeSet::parse(names.iter().map(String::as_str)).map_err(|bad| {
        ManageError::Invalid(format!(
            "`{bad}` is not a scope; scopes are: {}",
            crate::auth::scope::ALL_SCOPES.join(" ")
        ))
    })
}

fn hash_password(pw: &str) -> ManageResult<String> {
    password::check_strength(pw).map_err(ManageError::Invalid)?;
    password::hash(pw).map_err(ManageError::Invalid)
}

/// Adds a user.
pub fn add(conn: &Connection, input: UserInput) -> ManageResult<User> {
    // Emails compare case-insensitively; store one spelling so lists and lookups agree.
    let email = input.email.trim().to_lowercase();
    let email = email.as_str();
    check_email(email)?;
    let account = accounts::require(conn, &input.account)?;
    if users::email_exists(conn, email)? {
        return Err(ManageError::Conflict(format!(
            "a user with email `{email}` already exists"
        )));
    }
    let permissions = match &input.permissions {
        Some(p) => parse_permissions(p)?,
        None => ScopeSet::ALL,
    };
    let hash = input.password.as_deref().map(hash_password).transpose()?;
    let id = users::insert(
        conn,
        &NewUser {
            account_id: account.id,
            email,
            name: input.name.as_deref(),
            role: input.role,
            permissions: permissions.bits(),
            password_hash: hash.as_deref(),
        },
        clock::now_ms(),
    )?;
    Ok(users::find_by_id(conn, id)?.expect("just inserted"))
}

/// What an update changes; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New role.
    pub role: Option<Role>,
    /// New permissions (replace the whole set).
    pub permissions: Option<Vec<String>>,
    /// Disable (`Some(true)`) or enable.
    pub disabled: Option<bool>,
    /// New password.
    pub password: Option<String>,
    /// New display name.
    pub name: Option<String>,
}

/// Finds a user by email, or says which email is unknown.
pub fn require(conn: &Connection, email: &str) -> ManageResult<User> {
    users::find_by_email(conn, email.trim())?
        .ok_or_else(|| ManageError::NotFound(format!("no user with email `{email}`")))
}

/// Applies `changes` to the user with `email`.
pub fn update(conn: &Connection, email: &str, changes: UserChanges) -> ManageResult<User> {
    let mut user = require(conn, email)?;
    if let Some(r) = changes.role {
        user.role = r;
    }
    if let Some(p) = &changes.permissions {
        user.permissions = parse_permissions(p)?.bits();
    }
    if let Some(d) = changes.disabled {
        user.disabled = d;
    }
    if let Some(n) = changes.name {
        user.name = Some(n).filter(|n| !n.trim().is_empty());
    }
    let now = clock::now_ms();
    users::update(conn, &user, now)?;
    if let Some(pw) = &changes.password {
        users::set_password_hash(conn, user.id, &hash_password(pw)?, now)?;
    }
    Ok(users::find_by_id(conn, user.id)?.expect("exists"))
}

/// Finds a user by id (it must exist: a foreign key points at it).
pub fn find_by_id_required(conn: &Connection, id: crate::model::UserId) -> ManageResult<User> {
    users::find_by_id(conn, id)?
        .ok_or_else(|| ManageError::NotFound(format!("no user with id {id}")))
}

/// Finds a user of `account` by id; another account's user does not exist for the caller.
pub fn require_in_account(
    conn: &Connection,
    account: crate::model::AccountId,
    id: crate::model::UserId,
) -> ManageResult<User> {
    users::find_by_id(conn, id)?
        .filter(|u| u.account_id == account)
        .ok_or_else(|| ManageError::NotFound(format!("no user with id {id}")))
}

/// Creates the first admin (first-run setup) in the `default` account, with a password; refused
/// once any admin exists.
pub fn create_first_admin(
    conn: &Connection,
    email: &str,
    name: Option<&str>,
    password: &str,
) -> ManageResult<User> {
    if users::any_admin(conn)? {
        return Err(ManageError::Conflict(
            "an admin already exists: sign in instead".into(),
        ));
    }
    add(
        conn,
        UserInput {
            email: email.into(),
            name: name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
            role: Role::Admin,
            account: super::accounts::DEFAULT.into(),
            permissions: None,
            password: Some(password.into()),
        },
    )
}

/// The rule that keeps an account manageable: a change may not leave it without an enabled
/// admin who can sign in (the admin page refuses to lock its own account out).
pub fn keep_an_admin(conn: &Connection, user: &User, changes: &UserChanges) -> ManageResult<()> {
    let loses_admin = user.role == Role::Admin
        && !user.disabled
        && (changes.role.is_some_and(|r| r != Role::Admin) || changes.disabled == Some(true));
    if loses_admin && users::count_enabled_admins(conn, user.account_id)? <= 1 {
        return Err(ManageError::Invalid(
            "this is the account's last admin: make someone else an admin first".into(),
        ));
    }
    Ok(())
}
