//! Lines written to stderr whatever `RUST_LOG` lets through: the reason a command failed, and
//! the first-run setup address. A filter of `error` or `off` must not leave an operator with
//! an exit status and no reason, or with a one-time setup code created and never shown.
//! They are shaped as `tracing`'s formatter shapes its events (as `telemetry` shapes the
//! request lines), so with `--log-format json` they are JSON objects like every other line.

use std::fmt::Write as _;

use tracing::Level;

use crate::cli::LogFormat;
use crate::telemetry;

/// Writes an event past the log filter, in the format `telemetry::init` set up; nothing
/// before it ran (a test harness that set up no logging).
pub fn emit(level: Level, target: &str, message: &str, fields: &[(&str, &str)]) {
    if let Some((format, ansi)) = telemetry::configured() {
        let now = telemetry::timestamp();
        telemetry::write_line(line(format, ansi, level, target, message, fields, &now).as_bytes());
    }
}

/// Says why the command failed: `error: <reason>` for people, an `ERROR` event in json.
/// `format` is given, not looked up: the failure may come before logging was set up (a
/// config file with a mistake).
pub fn fatal(format: LogFormat, reason: &str) {
    let text = match format {
        LogFormat::Pretty => format!("error: {reason}\n"),
        LogFormat::Json => line(
            format,
            false,
            Level::ERROR,
            "switchboard",
            reason,
            &[],
            &telemetry::timestamp(),
        ),
    };
    telemetry::write_line(text.as_bytes());
}

/// One event as `tracing`'s formatter writes it: a JSON object (fields flattened, then the
/// target), or `time  LEVEL message name=value` for people (the target left out, as
/// `telemetry::init` has it), optionally in colour. Ends with a newline.
fn line(
    format: LogFormat,
    ansi: bool,
    level: Level,
    target: &str,
    message: &str,
    fields: &[(&str, &str)],
    now: &str,
) -> String {
    if format == LogFormat::Json {
        // By hand, in `tracing`'s order: serde_json's map would sort the keys.
        let text = |s: &str| serde_json::Value::from(s).to_string();
        let mut out = format!(
            "{{\"timestamp\":{},\"level\":{},\"message\":{}",
            text(now),
            text(level.as_str()),
            text(message)
        );
        for (name, value) in fields {
            let _ = write!(out, ",{}:{}", text(name), text(value));
        }
        let _ = writeln!(out, ",\"target\":{}}}", text(target));
        return out;
    }
    let (dim, italic, reset) = if ansi {
        ("\x1b[2m", "\x1b[3m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let colour = match (ansi, level) {
        (false, _) => "",
        (true, Level::ERROR) => "\x1b[31m",
        (true, Level::WARN) => "\x1b[33m",
        (true, Level::INFO) => "\x1b[32m",
        (true, Level::DEBUG) => "\x1b[34m",
        (true, _) => "\x1b[35m",
    };
    let mut out = format!(
        "{dim}{now}{reset} {colour}{:>5}{reset} {message}",
        level.as_str()
    );
    for (name, value) in fields {
        let _ = write!(out, " {italic}{name}{reset}{dim}={reset}{value}");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-28T14:31:54.987030Z";

    /// What `tracing`'s own JSON formatter, set up as `telemetry::init` sets it up, writes
    /// for the same event; the time replaced by `NOW`.
    fn real_json_event(target_setup: bool) -> String {
        use std::io;
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            if target_setup {
                tracing::warn!(target: "switchboard::admin::setup",
                    setup_url = "http://127.0.0.1:8080/admin/setup?code=x", "open this");
            } else {
                tracing::error!(target: "switchboard", "the port is taken");
            }
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let start = text.find("\"timestamp\":\"").unwrap() + "\"timestamp\":\"".len();
        let end = start + text[start..].find('"').unwrap();
        format!("{}{NOW}{}", &text[..start], &text[end..])
    }

    #[test]
    fn a_json_notice_is_what_tracing_itself_writes_for_the_event() {
        // Kept in step with the `tracing-subscriber` in use: an upgrade that changes its
        // lines fails here, not in an operator's log shipper.
        assert_eq!(
            line(
                LogFormat::Json,
                false,
                Level::WARN,
                "switchboard::admin::setup",
                "open this",
                &[("setup_url", "http://127.0.0.1:8080/admin/setup?code=x")],
                NOW,
            ),
            real_json_event(true)
        );
        assert_eq!(
            line(
                LogFormat::Json,
                false,
                Level::ERROR,
                "switchboard",
                "the port is taken",
                &[],
                NOW
            ),
            real_json_event(false)
        );
    }

    #[test]
    fn a_json_notice_is_one_object_shaped_like_a_tracing_event() {
        let text = line(
            LogFormat::Json,
            false,
            Level::WARN,
            "switchboard::admin::setup",
            "open \"this\"\nnow",
            &[("setup_url", "http://127.0.0.1:8080/admin/setup?code=x")],
            NOW,
        );
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.starts_with("{\"timestamp\""), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "timestamp": NOW, "level": "WARN", "message": "open \"this\"\nnow",
                "setup_url": "http://127.0.0.1:8080/admin/setup?code=x",
                "target": "switchboard::admin::setup",
            })
        );
    }

    #[test]
    fn a_plain_notice_reads_like_the_other_lines_and_colour_changes_nothing_else() {
        let plain = line(
            LogFormat::Pretty,
            false,
            Level::WARN,
            "t",
            "no admin exists yet",
            &[("setup_url", "http://h/x")],
            NOW,
        );
        assert_eq!(
            plain,
            format!("{NOW}  WARN no admin exists yet setup_url=http://h/x\n")
        );
        let coloured = line(
            LogFormat::Pretty,
            true,
            Level::WARN,
            "t",
            "no admin exists yet",
            &[("setup_url", "http://h/x")],
            NOW,
        );
        let mut stripped = String::new();
        for (i, part) in coloured.split("\x1b[").enumerate() {
            stripped.push_str(if i == 0 {
                part
            } else {
                &part[part.find('m').unwrap() + 1..]
            });
        }
        assert_eq!(stripped, plain);
    }
}
