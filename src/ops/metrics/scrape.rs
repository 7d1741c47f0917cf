//! The `GET /metrics` handler: the in-memory counters, then the figures read when scraped
//! (token cache, reader pool, writer, WAL, webhook senders and the outbox's depth).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};

use super::memory::render_memory;
use super::{Metrics, gauge_like, header};
use crate::activity::Recorder;
use crate::auth::AuthState;
use crate::store::{Store, ops as store_ops};
use crate::webhooks::pool::{self as webhook_pool, Attempts};

/// `GET /metrics`: Prometheus text, one family after another by subsystem.
pub(super) async fn metrics(
    metrics: web::Data<Metrics>,
    auth: web::Data<AuthState>,
    store: web::Data<Store>,
    recorder: Option<web::Data<Recorder>>,
    attempts: Option<web::Data<Attempts>>,
) -> HttpResponse {
    let mut out = String::with_capacity(8 * 1024);
    metrics.render_requests(&mut out);
    render_memory(&mut out, &auth, recorder.as_ref().map(|r| r.get_ref()));
    render_token_cache(&mut out, &auth);
    render_readers(&mut out, &store);
    render_writer(&mut out, &store);
    if let Some(attempts) = attempts {
        render_attempts(&mut out, &attempts);
    }
    render_outbox(&mut out, &store).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

/// The token cache's hits and misses since start.
fn render_token_cache(out: &mut String, auth: &AuthState) {
    let (hits, misses) = auth.cache_stats();
    gauge_like(
        out,
        "switchboard_token_cache_hits_total",
        "counter",
        "Token lookups answered from the cache.",
        hits,
    );
    gauge_like(
        out,
        "switchboard_token_cache_misses_total",
        "counter",
        "Token lookups that went to the database.",
        misses,
    );
    let ratio = if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    };
    gauge_like(
        out,
        "switchboard_token_cache_hit_ratio",
        "gauge",
        "Share of token lookups answered from the cache since start.",
        ratio,
    );
}

/// The readers: the pool, the workers' inline reads and the snapshots they hold.
fn render_readers(out: &mut String, store: &Store) {
    let pool = store.pool_stats();
    gauge_like(
        out,
        "switchboard_db_pool_waits_total",
        "counter",
        "Reads that found no idle pooled connection and had to wait for one.",
        pool.waits,
    );
    gauge_like(
        out,
        "switchboard_db_pool_wait_seconds_total",
        "counter",
        "Time spent waiting for a pooled connection.",
        pool.wait_seconds,
    );
    gauge_like(
        out,
        "switchboard_db_inline_reads_moved_total",
        "counter",
        "Reads begun on a server worker that ran past their budget and ran again on the pool.",
        pool.moved,
    );
    gauge_like(
        out,
        "switchboard_db_read_snapshots_total",
        "counter",
        "Read transactions the workers' reads began; each serves the reads after it until a write commits.",
        pool.snapshots,
    );
    gauge_like(
        out,
        "switchboard_db_read_snapshots_held",
        "gauge",
        "Read transactions held open by server workers for their next reads.",
        pool.snapshots_held,
    );
    gauge_like(
        out,
        "switchboard_db_pool_connections",
        "gauge",
        "Open reader connections.",
        pool.connections,
    );
    gauge_like(
        out,
        "switchboard_db_pool_idle_connections",
        "gauge",
        "Idle reader connections.",
        pool.idle,
    );
}

/// The writer's batches and commits, and the WAL it writes.
fn render_writer(out: &mut String, store: &Store) {
    let w = store.writer().stats();
    gauge_like(
        out,
        "switchboard_db_writer_commits_total",
        "counter",
        "Transactions the writer committed (group commit: many writes each).",
        w.commits,
    );
    gauge_like(
        out,
        "switchboard_db_writer_writes_total",
        "counter",
        "Writes the writer took into its batches.",
        w.writes,
    );
    gauge_like(
        out,
        "switchboard_db_writer_queued",
        "gauge",
        "Writes waiting for the writer.",
        store.writer().queued(),
    );
    gauge_like(
        out,
        "switchboard_db_writer_busy_seconds_total",
        "counter",
        "Time the writer spent running batches, commits included.",
        w.busy_seconds,
    );
    gauge_like(
        out,
        "switchboard_db_writer_commit_seconds_total",
        "counter",
        "Time the writer spent committing (writing the WAL, waiting for the disk).",
        w.commit_seconds,
    );
    gauge_like(
        out,
        "switchboard_db_writer_crowded_commits_total",
        "counter",
        &format!(
            "Commits that answered {} or more waiting callers at once: requests queued up behind the writer. Until {} ms after the last of them (and for the first {} s of such a crowd), webhook attempts go to the yielding senders, where they run at the lowest processor priority (switchboard_webhook_attempts_total).",
            crate::store::CROWDED_AT,
            crate::store::CROWDED_FOR.as_millis(),
            webhook_pool::YIELD_AT_MOST.as_secs()
        ),
        w.crowded_commits,
    );
    gauge_like(
        out,
        "switchboard_wal_frames",
        "gauge",
        "Pages in the WAL after the writer's last commit: its length since it last started over.",
        w.wal_frames,
    );
    gauge_like(
        out,
        "switchboard_wal_file_bytes",
        "gauge",
        &format!(
            "Size of the WAL file. At the first commit after the WAL starts over, a file past {:.1} MB (while writes stream in) or past {:.1} MB (once they slowed down) is cut back to that size; without writes it keeps its size.",
            crate::store::checkpoint::WAL_STREAMING_LIMIT as f64 / 1e6,
            crate::store::checkpoint::WAL_QUIET_LIMIT as f64 / 1e6
        ),
        store.wal_file_bytes(),
    );
    gauge_like(
        out,
        "switchboard_wal_restarts_total",
        "counter",
        "Times the writer started the WAL over from its beginning at the checkpointer's request.",
        w.wal_restarts,
    );
    gauge_like(
        out,
        "switchboard_wal_checkpoint_passes_total",
        "counter",
        "Passes of the background checkpointer, which copies the WAL back into the database (failed ones included).",
        w.checkpoint_passes,
    );
    gauge_like(
        out,
        "switchboard_wal_checkpoint_seconds_total",
        "counter",
        "Time the checkpointer spent in its passes, syncing the database file included.",
        w.checkpoint_seconds,
    );
    gauge_like(
        out,
        "switchboard_wal_restarts_asked_total",
        "counter",
        "Checkpointer passes that found the WAL past its bound and asked the writer to start it over.",
        w.restarts_asked,
    );
}

/// The webhook senders' attempts by lane, and the endpoints they hold back.
fn render_attempts(out: &mut String, attempts: &Attempts) {
    header(
        out,
        "switchboard_webhook_attempts_total",
        "counter",
        &format!(
            "Webhook attempts made, by sender lane: yielding while API writes crowded the writer (at the lowest processor priority, for {} s of a crowd at most; on Linux, where a thread can lower itself), steady otherwise.",
            webhook_pool::YIELD_AT_MOST.as_secs()
        ),
    );
    for (lane, n) in [
        ("steady", &attempts.steady),
        ("yielding", &attempts.yielding),
    ] {
        let n = n.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "switchboard_webhook_attempts_total{{lane=\"{lane}\"}} {n}"
        );
    }
    header(
        out,
        "switchboard_webhook_endpoints_held",
        "gauge",
        "Endpoints held to one attempt at a time at the last claim, by why: their last attempt failed, an attempt has run longer than a quarter of the timeout, or none of their attempts has ended yet. Together they hold at most three quarters of a lane's senders.",
    );
    for (why, n) in [
        ("failing", &attempts.held.failing),
        ("hanging", &attempts.held.hanging),
        ("new", &attempts.held.new),
    ] {
        let n = n.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "switchboard_webhook_endpoints_held{{reason=\"{why}\"}} {n}"
        );
    }
}

/// The outbox's depth by status, counted on the pool (off the server's worker).
async fn render_outbox(out: &mut String, store: &web::Data<Store>) {
    let reader = store.clone().into_inner();
    let depth = web::block(move || reader.read(store_ops::deliveries_by_status)).await;
    header(
        out,
        "switchboard_webhook_deliveries",
        "gauge",
        "Webhook deliveries in the outbox, by status (pending and paused are the queue).",
    );
    match depth {
        Ok(Ok(rows)) => {
            // Every status, with its count (0 included).
            for (status, n) in rows {
                let _ = writeln!(
                    out,
                    "switchboard_webhook_deliveries{{status=\"{status}\"}} {n}"
                );
            }
        }
        _ => tracing::warn!("metrics: could not count webhook deliveries"),
    }
}
