//! The `serve` flags, and the `config` command that resolves them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `serve` flags.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SWITCHBOARD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Peers whose X-Forwarded-For is believed (repeatable; CIDR or address; an empty value
    /// means none)
    #[arg(
        long,
        env = "SWITCHBOARD_TRUSTED_PROXY",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub trusted_proxy: Option<Vec<String>>,
    /// Callers from here are never rate limited (repeatable; an empty value means none)
    #[arg(
        long,
        env = "SWITCHBOARD_RATE_LIMIT_EXEMPT",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub rate_limit_exempt: Option<Vec<String>>,
    /// Default per-token limits, replacing 20/1s, 200/10s, 1000/1m (repeatable); an empty
    /// value means those built-in ones
    #[arg(
        long,
        env = "SWITCHBOARD_DEFAULT_LIMIT",
        value_delimiter = ',',
        value_name = "N/WINDOW"
    )]
    pub default_limit: Option<Vec<String>>,
    /// Failed authentications allowed per client address before 429 [default: 20/1m]
    #[arg(long, env = "SWITCHBOARD_FAILED_AUTH_LIMIT", value_name = "N/WINDOW")]
    pub failed_auth_limit: Option<String>,
    /// HTTP worker threads [default: number of cores]
    #[arg(long, env = "SWITCHBOARD_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Never deliver webhooks to loopback or private addresses (link-local and cloud metadata
    /// addresses are always refused); the bare flag means true [default: false]
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_DENY_PRIVATE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub webhook_deny_private: Option<bool>,
    /// Connect and total timeout of one webhook attempt [default: 10s]
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_TIMEOUT", value_name = "DURATION")]
    pub webhook_timeout: Option<String>,
    /// Delays between webhook retries, then `dead`; an empty value means the default
    /// [default: 5s,5m,30m,2h,5h,10h,10h]
    #[arg(
        long,
        env = "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE",
        value_delimiter = ',',
        value_name = "DURATION"
    )]
    pub webhook_retry_schedule: Option<Vec<String>>,
    /// Delivered and dead webhook deliveries are kept this long [default: 30d]
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_RETENTION", value_name = "DURATION")]
    pub webhook_retention: Option<String>,
    /// Webhook sender threads [default: 16]; on Linux, a quarter as many more, at the lowest
    /// CPU priority, take the attempts (one per endpoint at a time) during the first 30 s of a
    /// burst of API writes
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_SENDERS", value_name = "N")]
    pub webhook_senders: Option<usize>,
    /// Mark the admin session cookie Secure even when the request does not look like HTTPS
    /// (behind a TLS proxy that sends no X-Forwarded-Proto); the bare flag means true
    /// [default: false]
    #[arg(long, env = "SWITCHBOARD_SECURE_COOKIES", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub secure_cookies: Option<bool>,
    /// How long the audit log keeps a call [default: 90d]
    #[arg(long, env = "SWITCHBOARD_AUDIT_RETENTION", value_name = "DURATION")]
    pub audit_retention: Option<String>,
    /// Refuse writes (503) once the database reaches this size, e.g. 2GB [default: no cap]
    #[arg(long, env = "SWITCHBOARD_MAX_DB_SIZE", value_name = "SIZE")]
    pub max_db_size: Option<String>,
    /// Write scheduled backups into this directory (off unless given)
    #[arg(long, env = "SWITCHBOARD_BACKUP_DIR", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How often to back up with --backup-dir [default: 24h]
    #[arg(long, env = "SWITCHBOARD_BACKUP_EVERY", value_name = "DURATION")]
    pub backup_every: Option<String>,
    /// How many scheduled backups to keep, oldest removed first [default: 7]
    #[arg(long, env = "SWITCHBOARD_BACKUP_KEEP", value_name = "N")]
    pub backup_keep: Option<usize>,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the effective configuration (flags > env > file > defaults), secrets hidden
    Show {
        /// The `serve` settings to resolve, as `serve` takes them
        #[command(flatten)]
        serve: ServeArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}
