//! The management operations and their rules, shared by both faces: the CLI and the admin
//! API. Each takes a connection inside a write transaction; callers commit.

pub mod accounts;
pub mod tokens;
pub mod users;
pub mod views;
pub mod webhooks;

use crate::store::StoreError;

/// Why a management operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A value or combination is not allowed.
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with what exists (a taken name or email).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ManageError {
    fn from(e: rusqlite::Error) -> Self {
        ManageError::Store(StoreError::Sqlite(e))
    }
}

/// Result alias for management operations.
pub type ManageResult<T> = Result<T, ManageError>;

/// Basic email shape check: something@domain.tld, no spaces.
pub(crate) fn check_email(email: &str) -> ManageResult<()> {
    let ok = email.len() <= 254
        && email.matches('@').count() == 1
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'))
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ManageError::Invalid(format!(
            "`{email}` is not an email address"
        )))
    }
}
