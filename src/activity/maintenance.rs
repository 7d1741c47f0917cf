//! Periodic upkeep: prune old audit rows, revoke tokens unused beyond their account's policy,
//! and warn once before a token expires.

use std::time::Duration;

use crate::auth::AuthState;
use crate::background::Stop;
use crate::clock;
use crate::manage::{self, ManageError};
use crate::store::{Store, audit, generation};

/// How often the upkeep runs.
pub const EVERY: Duration = Duration::from_secs(30);

/// Runs the upkeep every `every` until stopped (and once at start).
pub fn run(store: &Store, auth: &AuthState, retention: Duration, every: Duration, stop: &Stop) {
    stop.repeat(|| {
        if let Err(e) = run_once(store, auth, retention) {
            tracing::warn!(error = %e, "maintenance pass failed");
        }
        every
    });
}

/// The most audit rows one write deletes.
const PRUNE_CHUNK: usize = 2_000;

/// One pass of the upkeep.
pub fn run_once(store: &Store, auth: &AuthState, retention: Duration) -> Result<(), ManageError> {
    let now = clock::now_ms();
    let cutoff = now - retention.as_millis() as i64;
    // In writes of a bounded size: the first pass after a long pause (or a lowered
    // retention) may have millions of rows to drop, and API writes wait behind each write.
    let mut pruned = 0;
    // A bound only (rows are appended above it), so a read's snapshot will do: no writer
    // slot, no commit.
    let run_end = store.read(|c| audit::old_run_end(c, cutoff, now))?;
    loop {
        let n = store
            .writer()
            .write_blocking(move |tx| audit::prune(tx, cutoff, run_end, PRUNE_CHUNK))?;
        pruned += n;
        if n < PRUNE_CHUNK {
            break;
        }
    }
    let (revoked, warned) = store.writer().write_blocking(move |tx| {
        audit::prune_seen_ips(tx, now - 30 * 86_400_000)?;
        let revoked = manage::tokens::revoke_unused(tx, now)?;
        if !revoked.is_empty() {
            generation::bump(tx)?;
        }
        let warned = manage::tokens::warn_expiring(tx, now)?;
        Ok::<_, ManageError>((revoked, warned))
    })?;
    if !revoked.is_empty() {
        auth.invalidate_all();
        for t in &revoked {
            tracing::info!(prefix = %t.prefix, "token revoked after inactivity");
        }
    }
    if pruned > 0 || warned > 0 {
        tracing::info!(pruned, warned, "maintenance pass");
    }
    Ok(())
}
