//! Logging: `tracing` to stderr, pretty or one JSON object per line; level from `RUST_LOG`.
//!
//! The one line per request (`ops::request_log`) is the bulk of the output: those lines are
//! gathered in memory and written together every 100 ms, so a call pays for formatting but
//! not for a `write` system call of its own. Every other line is written at once, after
//! whatever request lines wait, so the order on stderr stays the order of events.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;

/// The target of the per-request lines.
const REQUEST_LOG_TARGET: &str = "switchboard::ops::request_log";
/// How often gathered request lines are written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Gathered lines are written at once beyond this, so memory stays bounded.
const BUFFER_LIMIT: usize = 64 * 1024;

/// Request lines not yet written.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static FLUSHER: Once = Once::new();
/// Whether the flusher thread runs (else every line is written at once).
static FLUSHING: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber. Safe to call once per process.
/// `quiet` (management commands) logs only warnings unless `RUST_LOG` says otherwise.
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "info,refinery_core=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only for a person at a terminal, not in a journal or a file.
        LogFormat::Pretty => builder
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Writes the request lines still gathered. Called at shutdown; harmless at any time.
pub fn flush() {
    write_pending(&mut pending());
}

fn pending() -> MutexGuard<'static, Vec<u8>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_pending(buf: &mut Vec<u8>) {
    if !buf.is_empty() {
        // Nowhere to report a failure to write the log.
        let _ = std::io::stderr().write_all(buf);
        buf.clear();
    }
}

/// Starts the flusher thread once; true while it runs.
fn flusher_running() -> bool {
    FLUSHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flush();
                }
            });
        FLUSHING.store(spawned.is_ok(), Ordering::Release);
    });
    FLUSHING.load(Ordering::Acquire)
}

/// The subscriber's writer: request lines are gathered, the rest written through.
struct Stderr;

/// Where one formatted event goes.
enum Line {
    Gathered,
    Direct,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line::Direct
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        if meta.target() == REQUEST_LOG_TARGET && *meta.level() == Level::INFO && flusher_running()
        {
            Line::Gathered
        } else {
            Line::Direct
        }
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = pending();
        match self {
            Line::Gathered => {
                if pending.len() + buf.len() > BUFFER_LIMIT {
                    write_pending(&mut pending);
                }
                pending.extend_from_slice(buf);
                Ok(buf.len())
            }
            Line::Direct => {
                // Earlier request lines first, so stderr keeps the order of events.
                write_pending(&mut pending);
                std::io::stderr().write_all(buf).map(|()| buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the gathered lines are process-wide, and tests run in parallel.
    #[test]
    fn gathered_lines_stay_bounded_and_go_out_before_a_direct_line() {
        let line = [b'x'; 1000];
        for _ in 0..200 {
            Line::Gathered.write_all(&line).unwrap();
            assert!(pending().len() <= BUFFER_LIMIT);
        }
        Line::Gathered.write_all(b"request line\n").unwrap();
        assert!(pending().ends_with(b"request line\n"));
        Line::Direct.write_all(b"warning line\n").unwrap();
        assert!(pending().is_empty());
    }
}
