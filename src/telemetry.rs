//! Logging: `tracing` to stderr, pretty or one JSON object per line; level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

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
        .with_writer(std::io::stderr);
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
