//! `GET /metrics`: Prometheus text exposition, written by hand (a handful of counters and one
//! histogram do not justify a metrics crate and its dependency tree).
//!
//! Request counters are kept in memory by the request middleware; the webhook queue depth and
//! the auth cache figures are read when scraped, so they are never stale.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web;

mod memory;
mod scrape;

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

/// Label values escape backslash, quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Registers `GET /metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api::get_or_head("/metrics", scrape::metrics));
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
