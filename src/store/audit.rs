//! The audit log and per-token daily usage counters. Written in batches by the telemetry
//! flusher, read by the admin page and the CLI.

use std::borrow::Cow;

use serde::Serialize;

use crate::model::{AccountId, TokenId, UserId};

mod insert;
mod prune;
mod query;
mod usage;

pub use insert::insert_many;
pub use prune::{old_run_end, prune};
pub use query::{AuditFilter, list};
pub use usage::{DailyUsage, add_usage, note_ip, prune_seen_ips, usage};

/// One `/api/v1` call.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Row id (0 before insertion).
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// The token's account, when a token was identified.
    pub account_id: Option<AccountId>,
    /// The token, when identified.
    pub token_id: Option<TokenId>,
    /// Its prefix.
    pub token_prefix: Option<String>,
    /// Its user.
    pub user_id: Option<UserId>,
    /// HTTP method (a standard one's name is not copied for each call).
    pub method: Cow<'static, str>,
    /// Path (no query string: it could carry anything).
    pub path: String,
    /// Answer status.
    pub status: u16,
    /// The problem code of a refused call.
    pub code: Option<String>,
    /// Caller address.
    pub ip: String,
    /// Time to answer (µs).
    pub latency_us: i64,
}

/// The ids of a block, the unit of `audit_token_ranges` and `audit_account_ranges` (see
/// migrations V9 and V13), as a shift: 16,384.
const BLOCK_BITS: u32 = 14;

#[cfg(test)]
mod tests;
