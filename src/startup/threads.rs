//! The bodies of two background threads the server starts: the change poller and the WAL
//! checkpointer.

use std::time::Duration;

use crate::auth::AuthState;
use crate::background::Stop;
use crate::store::{Store, checkpoint, generation};

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How often the server looks for changes made by other processes (the CLI).
const GENERATION_POLL: Duration = Duration::from_millis(100);

/// Drops cached auth state whenever another process bumps the change generation.
pub(super) fn poll_generation(store: &Store, auth: &AuthState, stop: &Stop) {
    let mut seen = store.read(generation::current).ok();
    stop.repeat(|| {
        match store.read(generation::current) {
            Ok(now) if Some(now) != seen => {
                auth.invalidate_all();
                seen = Some(now);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the change generation"),
        }
        GENERATION_POLL
    });
}

/// Copies the WAL back into the database in the background (see `store::checkpoint`).
pub(super) fn run_checkpointer(path: &std::path::Path, writer: &crate::store::Writer, stop: &Stop) {
    let checkpointer = match checkpoint::open_checkpointer(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the WAL checkpointer could not open the database");
            return;
        }
    };
    let mut wait = CHECKPOINT_EVERY;
    while !stop.wait(wait) {
        wait = match checkpointer.pass(checkpoint::RESTART_ABOVE_PAGES, writer) {
            Ok(c) => {
                if c.restart_asked {
                    // With the pass's length, bench/tools/tail.py finds the calls it slowed.
                    let pass_ms = c.took.as_secs_f64() * 1000.0;
                    tracing::debug!(wal_pages = c.wal_pages, pass_ms, "WAL to be started over");
                }
                checkpoint::next_wait(&c, CHECKPOINT_EVERY)
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                CHECKPOINT_EVERY
            }
        };
    }
}
