//! `GET /metrics`: Prometheus text exposition, written by hand (a handful of counters and one
//! histogram do not justify a metrics crate and its dependency tree).
//!
//! Request counters are kept in memory by the request middleware; the webhook queue depth and
//! the auth cache figures are read when scraped, so they are never stale.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, web};

use crate::activity::Recorder;
use crate::auth::AuthState;
use crate::store::{Store, ops as store_ops};
use crate::webhooks::pool::{self as webhook_pool, Attempts};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Problem codes that mean the caller was not let in, counted as auth failures by reason.
const AUTH_FAILURES: [&str; 7] = [
    "missing_token",
    "invalid_token",
    "token_expired",
    "ip_not_allowed",
    "subscription_inactive",
    "plan_upgrade_required",
    "insufficient_scope",
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct Tables {
    /// route -> status -> count.
    requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// route -> latency histogram.
    latency: BTreeMap<String, Histogram>,
    /// reason -> count.
    auth_failures: BTreeMap<&'static str, u64>,
}

/// The server's in-memory metrics. Routes are labelled by their pattern, never by the raw
/// path, so the label set stays small whatever clients send.
#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
    rate_limited: AtomicU64,
    backups_ok: AtomicU64,
    backups_failed: AtomicU64,
    last_backup_unix: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64, code: Option<&str>) {
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        // Keys are allocated once per route, not once per request.
        if !t.requests.contains_key(route) {
            t.requests.insert(route.to_owned(), BTreeMap::new());
        }
        if let Some(by_status) = t.requests.get_mut(route) {
            *by_status.entry(status).or_default() += 1;
        }
        if !t.latency.contains_key(route) {
            t.latency.insert(route.to_owned(), Histogram::default());
        }
        let Some(h) = t.latency.get_mut(route) else {
            return;
        };
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.total += 1;
        if let Some(code) = code {
            if let Some(reason) = AUTH_FAILURES.iter().find(|r| **r == code) {
                *t.auth_failures.entry(reason).or_default() += 1;
            }
            if code == "rate_limited" {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records the outcome of a scheduled backup.
    pub fn backup_done(&self, ok: bool, unix_s: u64) {
        if ok {
            self.backups_ok.fetch_add(1, Ordering::Relaxed);
            self.last_backup_unix.store(unix_s, Ordering::Relaxed);
        } else {
            self.backups_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The in-memory part of the exposition.
    fn render_requests(&self, out: &mut String) {
        let t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        header(
            out,
            "switchboard_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern and status.",
        );
        for (route, status, n) in t
            .requests
            .iter()
            .flat_map(|(r, by)| by.iter().map(move |(s, n)| (r, s, n)))
        {
            let _ = writeln!(
                out,
                "switchboard_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        header(
            out,
            "switchboard_http_request_duration_seconds",
            "histogram",
            "Time from the request head to the response, by route pattern.",
        );
        for (route, h) in &t.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "switchboard_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "switchboard_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 switchboard_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 switchboard_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.total, h.sum, h.total
            );
        }
        header(
            out,
            "switchboard_auth_failures_total",
            "counter",
            "API calls refused before the handler, by reason (the problem code).",
        );
        for reason in AUTH_FAILURES {
            let n = t.auth_failures.get(reason).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "switchboard_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        drop(t);
        gauge_like(
            out,
            "switchboard_rate_limited_total",
            "counter",
            "Calls answered 429 rate_limited (token windows and failed-auth throttling).",
            self.rate_limited.load(Ordering::Relaxed),
        );
        header(
            out,
            "switchboard_backups_total",
            "counter",
            "Scheduled backups by outcome.",
        );
        let _ = writeln!(
            out,
            "switchboard_backups_total{{outcome=\"ok\"}} {}\nswitchboard_backups_total{{outcome=\"failed\"}} {}",
            self.backups_ok.load(Ordering::Relaxed),
            self.backups_failed.load(Ordering::Relaxed)
        );
        gauge_like(
            out,
            "switchboard_last_backup_timestamp_seconds",
            "gauge",
            "Unix time of the last successful scheduled backup (0: none yet).",
            self.last_backup_unix.load(Ordering::Relaxed),
        );
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge_like(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// What the process holds: resident memory, and how full each bounded structure is.
fn render_memory(out: &mut String, auth: &AuthState, recorder: Option<&Recorder>) {
    if let Some(bytes) = resident_bytes() {
        gauge_like(
            out,
            "switchboard_resident_memory_bytes",
            "gauge",
            "Resident set size of the process.",
            bytes,
        );
    }
    header(
        out,
        "switchboard_cache_entries",
        "gauge",
        "Entries held by each bounded in-memory structure.",
    );
    let sizes = auth.cache_sizes();
    for (name, entries, _) in &sizes {
        let _ = writeln!(
            out,
            "switchboard_cache_entries{{cache=\"{name}\"}} {entries}"
        );
    }
    header(
        out,
        "switchboard_cache_capacity",
        "gauge",
        "The most entries each bounded in-memory structure holds.",
    );
    for (name, _, capacity) in &sizes {
        let _ = writeln!(
            out,
            "switchboard_cache_capacity{{cache=\"{name}\"}} {capacity}"
        );
    }
    if let Some(r) = recorder {
        let (queued, capacity) = r.queued();
        gauge_like(
            out,
            "switchboard_call_records_queued",
            "gauge",
            "Call records (audit, usage, last-used) waiting for the next flush.",
            queued,
        );
        gauge_like(
            out,
            "switchboard_call_records_queue_capacity",
            "gauge",
            "The most call records that may wait; beyond it they are dropped and counted.",
            capacity,
        );
        let dropped = r.stats().dropped.load(Ordering::Relaxed);
        gauge_like(
            out,
            "switchboard_call_records_dropped_total",
            "counter",
            "Call records dropped because the queue was full.",
            dropped,
        );
    }
}

/// Resident set size from `/proc/self/status` (Linux; in kB there, whatever the page size,
/// which is 16 KiB on a Raspberry Pi 5); `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Label values escape backslash, quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Registers `GET /metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api::get_or_head("/metrics", metrics));
}

async fn metrics(
    metrics: web::Data<Metrics>,
    auth: web::Data<AuthState>,
    store: web::Data<Store>,
    recorder: Option<web::Data<Recorder>>,
    attempts: Option<web::Data<Attempts>>,
) -> HttpResponse {
    let mut out = String::with_capacity(8 * 1024);
    metrics.render_requests(&mut out);
    render_memory(&mut out, &auth, recorder.as_ref().map(|r| r.get_ref()));
    let (hits, misses) = auth.cache_stats();
    gauge_like(
        &mut out,
        "switchboard_token_cache_hits_total",
        "counter",
        "Token lookups answered from the cache.",
        hits,
    );
    gauge_like(
        &mut out,
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
        &mut out,
        "switchboard_token_cache_hit_ratio",
        "gauge",
        "Share of token lookups answered from the cache since start.",
        ratio,
    );
    let pool = store.pool_stats();
    gauge_like(
        &mut out,
        "switchboard_db_pool_waits_total",
        "counter",
        "Reads that found no idle pooled connection and had to wait for one.",
        pool.waits,
    );
    gauge_like(
        &mut out,
        "switchboard_db_pool_wait_seconds_total",
        "counter",
        "Time spent waiting for a pooled connection.",
        pool.wait_seconds,
    );
    gauge_like(
        &mut out,
        "switchboard_db_inline_reads_moved_total",
        "counter",
        "Reads begun on a server worker that ran past their budget and ran again on the pool.",
        pool.moved,
    );
    gauge_like(
        &mut out,
        "switchboard_db_read_snapshots_total",
        "counter",
        "Read transactions the workers' reads began; each serves the reads after it until a write commits.",
        pool.snapshots,
    );
    gauge_like(
        &mut out,
        "switchboard_db_read_snapshots_held",
        "gauge",
        "Read transactions held open by server workers for their next reads.",
        pool.snapshots_held,
    );
    gauge_like(
        &mut out,
        "switchboard_db_pool_connections",
        "gauge",
        "Open reader connections.",
        pool.connections,
    );
    gauge_like(
        &mut out,
        "switchboard_db_pool_idle_connections",
        "gauge",
        "Idle reader connections.",
        pool.idle,
    );
    let w = store.writer().stats();
    gauge_like(
        &mut out,
        "switchboard_db_writer_commits_total",
        "counter",
        "Transactions the writer committed (group commit: many writes each).",
        w.commits,
    );
    gauge_like(
        &mut out,
        "switchboard_db_writer_writes_total",
        "counter",
        "Writes the writer took into its batches.",
        w.writes,
    );
    gauge_like(
        &mut out,
        "switchboard_db_writer_queued",
        "gauge",
        "Writes waiting for the writer.",
        store.writer().queued(),
    );
    gauge_like(
        &mut out,
        "switchboard_db_writer_busy_seconds_total",
        "counter",
        "Time the writer spent running batches, commits included.",
        w.busy_seconds,
    );
    gauge_like(
        &mut out,
        "switchboard_db_writer_commit_seconds_total",
        "counter",
        "Time the writer spent committing (writing the WAL, waiting for the disk).",
        w.commit_seconds,
    );
    gauge_like(
        &mut out,
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
        &mut out,
        "switchboard_wal_frames",
        "gauge",
        "Pages in the WAL after the writer's last commit: its length since it last started over.",
        w.wal_frames,
    );
    gauge_like(
        &mut out,
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
        &mut out,
        "switchboard_wal_restarts_total",
        "counter",
        "Times the writer started the WAL over from its beginning at the checkpointer's request.",
        w.wal_restarts,
    );
    gauge_like(
        &mut out,
        "switchboard_wal_checkpoint_passes_total",
        "counter",
        "Passes of the background checkpointer, which copies the WAL back into the database (failed ones included).",
        w.checkpoint_passes,
    );
    gauge_like(
        &mut out,
        "switchboard_wal_checkpoint_seconds_total",
        "counter",
        "Time the checkpointer spent in its passes, syncing the database file included.",
        w.checkpoint_seconds,
    );
    gauge_like(
        &mut out,
        "switchboard_wal_restarts_asked_total",
        "counter",
        "Checkpointer passes that found the WAL past its bound and asked the writer to start it over.",
        w.restarts_asked,
    );
    if let Some(attempts) = attempts {
        header(
            &mut out,
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
            &mut out,
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
    let reader = store.clone().into_inner();
    let depth = web::block(move || reader.read(store_ops::deliveries_by_status)).await;
    header(
        &mut out,
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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_lands_in_every_bucket_at_or_above_its_latency() {
        let m = Metrics::default();
        m.observe("/api/v1/leads", 200, 0.003, None);
        m.observe("/api/v1/leads", 401, 0.0005, Some("invalid_token"));
        let mut out = String::new();
        m.render_requests(&mut out);
        assert!(
            out.contains(r#"route="/api/v1/leads",le="0.001"} 1"#),
            "{out}"
        );
        assert!(
            out.contains(r#"route="/api/v1/leads",le="0.005"} 2"#),
            "{out}"
        );
        assert!(
            out.contains(r#"route="/api/v1/leads",le="+Inf"} 2"#),
            "{out}"
        );
        assert!(out.contains(r#"switchboard_auth_failures_total{reason="invalid_token"} 1"#));
        assert!(
            out.contains(
                r#"switchboard_http_requests_total{route="/api/v1/leads",status="401"} 1"#
            )
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
