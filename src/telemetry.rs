//! Logging: `tracing` to stderr, pretty or one JSON object per line; level from `RUST_LOG`.
//!
//! The one line per request (`ops::request_log`) is the bulk of the output. It is formatted
//! here by hand (`request_line`), in the same shape `tracing`'s formatter gives every other
//! line: going through `tracing`'s event machinery (field visitors, span lookup, timestamp
//! formatter) took about 5% of the CPU of a point read and of `/healthz`.
//! Those lines are gathered in memory and written together every 100 ms, so a call pays for
//! formatting but not for a `write` system call of its own. Every other line is written at
//! once, after whatever request lines wait, so the order on stderr stays the order of events.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use tracing::Level;
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

/// How request lines are written: `STYLE_JSON`, `STYLE_PLAIN` or `STYLE_ANSI`.
static STYLE: AtomicU8 = AtomicU8::new(STYLE_PLAIN);
const STYLE_JSON: u8 = 0;
const STYLE_PLAIN: u8 = 1;
const STYLE_ANSI: u8 = 2;
/// Whether `init` ran: `notice` lines go out only then, so a test that set up no logging
/// stays quiet.
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber. Safe to call once per process.
/// `quiet` (management commands) logs only warnings unless `RUST_LOG` says otherwise.
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "info,refinery_core=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A line that cannot be written is dropped. tracing-subscriber would report it with
    // `eprintln!`, which panics when stderr is gone (a log pipe that died): the panic ended
    // whatever task was logging, the one that stops the server on SIGTERM among them.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr)
        .log_internal_errors(false);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let style = match format {
        LogFormat::Json => STYLE_JSON,
        LogFormat::Pretty if ansi => STYLE_ANSI,
        LogFormat::Pretty => STYLE_PLAIN,
    };
    STYLE.store(style, Ordering::Relaxed);
    INITIALIZED.store(true, Ordering::Release);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only for a person at a terminal, not in a journal or a file.
        LogFormat::Pretty => builder.with_target(false).with_ansi(ansi).try_init(),
    };
}

/// What the one line per request says.
pub struct RequestLine<'a> {
    /// The request id, also answered as `X-Request-Id`.
    pub request_id: &'a str,
    /// Method.
    pub method: &'a str,
    /// Path, without its query string.
    pub path: &'a str,
    /// The route pattern.
    pub route: &'a str,
    /// Answer status.
    pub status: u16,
    /// Time to answer.
    pub latency: Duration,
    /// The caller's address.
    pub ip: &'a str,
    /// The token's prefix, `-` without one.
    pub token_prefix: &'a str,
    /// The problem code, `-` for a success.
    pub code: &'a str,
}

/// Whether request lines are wanted (`RUST_LOG` may turn them off).
pub fn request_lines_enabled() -> bool {
    tracing::enabled!(target: REQUEST_LOG_TARGET, Level::INFO)
}

/// Writes one request line, shaped as `tracing`'s formatter shapes an event of the
/// `request_log` target inside a `request{request_id}` span.
pub fn request_line(line: &RequestLine<'_>) {
    let mut out = Vec::with_capacity(320);
    let mut stamp = [0; STAMP_LEN];
    let now = utc_now_us(&mut stamp);
    format_request_line(&mut out, line, STYLE.load(Ordering::Relaxed), &now);
    if flusher_running() {
        Line::Gathered
    } else {
        Line::Direct
    }
    .write_all(&out)
    .ok(); // nowhere to report a failure to write the log
}

fn format_request_line(out: &mut Vec<u8>, l: &RequestLine<'_>, style: u8, now: &str) {
    let latency_ms = l.latency.as_secs_f64() * 1000.0;
    if style == STYLE_JSON {
        let text = |out: &mut Vec<u8>, s: &str| {
            // Serializing a str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        };
        let _ = write!(
            out,
            "{{\"timestamp\":\"{now}\",\"level\":\"INFO\",\"message\":\"request\",\"method\":"
        );
        text(out, l.method);
        out.extend_from_slice(b",\"path\":");
        text(out, l.path);
        out.extend_from_slice(b",\"route\":");
        text(out, l.route);
        let _ = write!(out, ",\"status\":{},\"latency_ms\":", l.status);
        // As `tracing`'s JSON formatter writes an f64: through serde_json.
        let _ = serde_json::to_writer(&mut *out, &latency_ms);
        out.extend_from_slice(b",\"ip\":");
        text(out, l.ip);
        out.extend_from_slice(b",\"token_prefix\":");
        text(out, l.token_prefix);
        out.extend_from_slice(b",\"code\":");
        text(out, l.code);
        out.extend_from_slice(b",\"target\":");
        text(out, REQUEST_LOG_TARGET);
        out.extend_from_slice(b",\"spans\":[{\"request_id\":");
        text(out, l.request_id);
        out.extend_from_slice(b",\"name\":\"request\"}]}\n");
        return;
    }
    // Text, written piece by piece: `write!` with a dozen arguments was most of the cost of
    // the line. `{:?}` of an f64, as `tracing` records it; in colour, each `=` dimmed as it does.
    let (dim, green, bold, italic, reset, eq) = if style == STYLE_ANSI {
        (
            "\x1b[2m",
            "\x1b[32m",
            "\x1b[1m",
            "\x1b[3m",
            "\x1b[0m",
            "\x1b[2m=\x1b[0m",
        )
    } else {
        ("", "", "", "", "", "=")
    };
    let put = |out: &mut Vec<u8>, parts: &[&str]| {
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
    };
    let name = |out: &mut Vec<u8>, name: &str| put(out, &[" ", italic, name, reset, eq]);
    put(
        out,
        &[
            dim,
            now,
            reset,
            " ",
            green,
            " INFO",
            reset,
            " ",
            bold,
            "request",
            reset,
            bold,
            "{",
            reset,
            italic,
            "request_id",
            reset,
            eq,
            l.request_id,
            bold,
            "}",
            reset,
            dim,
            ":",
            reset,
            " request",
        ],
    );
    for (field, value) in [("method", l.method), ("path", l.path), ("route", l.route)] {
        name(out, field);
        out.extend_from_slice(value.as_bytes());
    }
    name(out, "status");
    out.extend_from_slice(itoa::Buffer::new().format(l.status).as_bytes());
    name(out, "latency_ms");
    let _ = write!(out, "{latency_ms:?}");
    name(out, "ip");
    out.extend_from_slice(l.ip.as_bytes());
    name(out, "token_prefix");
    push_debug_str(out, l.token_prefix);
    name(out, "code");
    push_debug_str(out, l.code);
    out.push(b'\n');
}

/// `{:?}` of a string: quoted, escaped. A prefix or a problem code needs no escape, and is
/// written as it is.
fn push_debug_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{s:?}");
    }
}

/// The length of `utc_now_us`'s text: `2026-11-28T14:31:54.987030Z`.
const STAMP_LEN: usize = 27;

/// Now, UTC, to the microsecond, as `tracing`'s formatter writes it; in `buf` unless the
/// year is outside 0000-9999.
fn utc_now_us(buf: &mut [u8; STAMP_LEN]) -> Cow<'_, str> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() as i64;
    let micros = now.subsec_micros() % 1000;
    let mut ms_text = [0; 24];
    let Some(text) = crate::clock::write_ms(ms, &mut ms_text) else {
        let general = crate::clock::format_ms(ms);
        return Cow::Owned(format!("{}{micros:03}Z", &general[..general.len() - 1]));
    };
    // `...SS.mmmZ` -> `...SS.mmmuuuZ`
    buf[..23].copy_from_slice(&text.as_bytes()[..23]);
    for (i, b) in buf[23..26].iter_mut().enumerate() {
        *b = b'0' + (micros / 10u32.pow(2 - i as u32) % 10) as u8;
    }
    buf[26] = b'Z';
    Cow::Borrowed(std::str::from_utf8(buf).unwrap_or_default())
}

/// The format `init` set up, and whether in colour; `None` before it ran.
pub(crate) fn configured() -> Option<(LogFormat, bool)> {
    INITIALIZED
        .load(Ordering::Acquire)
        .then(|| match STYLE.load(Ordering::Relaxed) {
            STYLE_JSON => (LogFormat::Json, false),
            style => (LogFormat::Pretty, style == STYLE_ANSI),
        })
}

/// Now, as the log lines stamp it.
pub(crate) fn timestamp() -> String {
    utc_now_us(&mut [0; STAMP_LEN]).into_owned()
}

/// Writes a line at once, after the gathered request lines (see `Line`).
pub(crate) fn write_line(line: &[u8]) {
    // Nowhere to report a failure to write the log.
    let _ = Line::Direct.write_all(line);
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

/// The subscriber's writer: every `tracing` line is written through (after the gathered
/// request lines).
struct Stderr;

/// Where one line goes: gathered (request lines, see `request_line`) or written at once.
enum Line {
    Gathered,
    Direct,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line::Direct
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
mod tests;
