//! What the process holds, read when scraped: resident memory, and how full each bounded
//! in-memory structure is.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::{gauge_like, header};
use crate::activity::Recorder;
use crate::auth::AuthState;

/// What the process holds: resident memory, and how full each bounded structure is.
pub(super) fn render_memory(out: &mut String, auth: &AuthState, recorder: Option<&Recorder>) {
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
