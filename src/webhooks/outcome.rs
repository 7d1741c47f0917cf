//! Recording an attempt: the delivery's next state, and the endpoint's health.

use rusqlite::Connection;

use super::WebhookSettings;
use super::retry;
use super::sender::Sent;
use crate::clock;
use crate::store::deliveries::{self, Claimed};
use crate::store::{StoreResult, webhooks};

/// Records `sent` for `c` in the given transaction: delivered; paused (a 410 disables the
/// endpoint); failed with a retry scheduled; or dead when the schedule is used up. An
/// endpoint whose every attempt has failed for `disable_after` is disabled. Nothing at all
/// when the delivery is gone (its endpoint was removed during the attempt).
pub fn record(
    conn: &Connection,
    c: &Claimed,
    sent: &Sent,
    settings: &WebhookSettings,
) -> StoreResult<()> {
    let now = clock::now_ms();
    let (status, next) = if sent.succeeded() {
        ("delivered", now)
    } else if sent.attempt.status == Some(410) {
        // The receiver says the endpoint is gone for good: stop at once, keep the delivery.
        ("paused", now)
    } else {
        let attempts = usize::try_from(c.attempts_in_schedule + 1).unwrap_or(usize::MAX);
        match retry::next_delay(&settings.retry_schedule, attempts, sent.retry_after) {
            Some(delay) => (
                "failed",
                now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
            ),
            None => ("dead", now),
        }
    };
    if !deliveries::record_attempt(conn, c, &sent.attempt, status, next, now)? {
        // Removing an endpoint does not wait for its attempts in flight; their outcomes have
        // nothing to change, and the endpoint's health is moot.
        tracing::debug!(delivery = c.id, endpoint = %c.endpoint_id,
            "webhook attempt not recorded: its endpoint was removed meanwhile");
        return Ok(());
    }
    if sent.succeeded() {
        return webhooks::mark_healthy(conn, c.endpoint_id);
    }
    if status == "paused" {
        let reason = format!(
            "the receiver answered 410 Gone at {}",
            clock::format_ms(now)
        );
        return disable(conn, c, &reason, now);
    }
    let since = webhooks::mark_failing(conn, c.endpoint_id, now)?;
    let limit = i64::try_from(settings.disable_after.as_millis()).unwrap_or(i64::MAX);
    if now - since >= limit {
        let reason = format!(
            "every delivery failed from {} to {}",
            clock::format_ms(since),
            clock::format_ms(now)
        );
        disable(conn, c, &reason, now)?;
    }
    Ok(())
}

/// Disables the endpoint and parks its waiting deliveries; said once, by the first of its
/// attempts in flight to come back with a reason (the others find it disabled already).
fn disable(conn: &Connection, c: &Claimed, reason: &str, now: i64) -> StoreResult<()> {
    if webhooks::disable_if_enabled(conn, c.endpoint_id, reason, now)? {
        tracing::warn!(endpoint = %c.endpoint_id, reason, "webhook endpoint disabled");
    }
    deliveries::pause_endpoint(conn, c.endpoint_id, now)?;
    Ok(())
}
