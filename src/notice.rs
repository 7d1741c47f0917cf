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
