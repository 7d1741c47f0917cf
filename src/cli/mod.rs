//! The command line: clap derive. Every global and `serve` flag has a `SWITCHBOARD_*`
//! environment variable; the values are merged with the config file in `config`.

mod commands;
mod ops_cmd;
mod output;
mod report;
mod webhook_cmds;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use commands::{main, run};
pub use report::parse_args;

/// What `--help` says of the environment: the flags' variables, lists in them, and logging.
const ENVIRONMENT_HELP: &str = "\
Environment:
  Every global and `serve` flag reads SWITCHBOARD_<FLAG> (SWITCHBOARD_DB, SWITCHBOARD_LISTEN, ...).
  A flag that can be repeated takes a comma-separated list there, e.g.
  SWITCHBOARD_TRUSTED_PROXY=10.0.0.0/8,192.168.0.0/16; an empty value is an empty list (or, for
  SWITCHBOARD_DEFAULT_LIMIT and SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE, the built-in ones), so it can
  clear a list the config file sets. A boolean takes true or false.
  Precedence: flags > environment > config file (--config) > defaults.
  RUST_LOG sets what is logged, e.g. RUST_LOG=debug or RUST_LOG=warn,switchboard=debug (default:
  info for serve, warn for the other commands). A command's fatal error and the first-run setup
  address are printed whatever it says.";

/// Switchboard: a self-hosted developer API for a small business's leads, jobs, invoices and
/// appointments, protected by scoped API tokens.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None, propagate_version = true)]
#[command(after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    /// Global settings.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The SQLite database file (created on first use) [default: ./switchboard.db]
    #[arg(long, global = true, env = "SWITCHBOARD_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A TOML file with the same settings as the flags (flags > env > file > defaults)
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log line format on stderr [default: pretty]
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates first; SIGTERM/SIGINT stop it gracefully, SIGQUIT at once)
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve(ServeArgs),
    /// Apply database migrations and exit
    Migrate {
        /// Print JSON: the schema version and the migrations this run applied
        #[arg(long)]
        json: bool,
    },
    /// Manage accounts (businesses)
    #[command(subcommand)]
    Account(AccountCmd),
    /// Manage users
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage webhook endpoints and deliveries
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Write a consistent copy of the database (safe while a server runs)
    Backup {
        /// The copy to write (must not exist yet)
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Replace the database with a backup (refused while a server uses it)
    Restore {
        /// The backup to restore (checked with PRAGMA integrity_check first)
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Read the audit log of /api/v1 calls, newest first
    Audit(AuditArgs),
    /// Offline, touching no database: is this a well-formed token? (exit 0 / 1)
    CheckToken {
        /// The token to check
        token: String,
        /// Print JSON (`{"valid":true,"prefix":...}`); a malformed token still exits 1 with
        /// the reason on stderr and nothing on stdout
        #[arg(long)]
        json: bool,
    },
}

/// `audit` filters.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Which account's calls (with --token: that token's)
    #[command(flatten)]
    pub accounts: AccountScope,
    /// Only this token's calls (id or prefix)
    #[arg(long)]
    pub token: Option<String>,
    /// Only calls answered with this status
    #[arg(long)]
    pub status: Option<u16>,
    /// Calls at or after this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Calls before this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// How many rows at most
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// The account a list command shows. Without --account, commands act on the account named
/// `default` (CONTRACT.md), as `user add` and `webhook add` do.
#[derive(Debug, Args)]
pub struct AccountScope {
    /// The account whose entries to list [default: the account named `default`]
    #[arg(long, conflicts_with = "all_accounts")]
    pub account: Option<String>,
    /// List the entries of every account
    #[arg(long)]
    pub all_accounts: bool,
}

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

/// `account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account
    Create {
        /// Unique name
        name: String,
        /// Plan
        #[arg(long, default_value = "pro", value_parser = ["free", "starter", "pro"])]
        plan: String,
        /// Subscription status
        #[arg(long, default_value = "active", value_parser = ["trialing", "active", "past_due", "canceled"])]
        status: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change an account's plan, status, allow-list or inactivity policy
    Update {
        /// Account name
        name: String,
        /// New plan
        #[arg(long, value_parser = ["free", "starter", "pro"])]
        plan: Option<String>,
        /// New status
        #[arg(long, value_parser = ["trialing", "active", "past_due", "canceled"])]
        status: Option<String>,
        /// Account-wide allow-list, replacing the current one (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Remove the account-wide allow-list
        #[arg(long, conflicts_with = "allow_ip")]
        clear_allow_ip: bool,
        /// Revoke tokens unused this long (e.g. 90d); `off` turns it off
        #[arg(long, value_name = "DURATION")]
        revoke_unused_after: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List accounts
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user
    Add {
        /// Email (unique)
        #[arg(long)]
        email: String,
        /// Display name
        #[arg(long)]
        name: Option<String>,
        /// Role
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
        /// Account name
        #[arg(long, default_value = crate::manage::accounts::DEFAULT)]
        account: String,
        /// Read a password from standard input (for the admin page)
        #[arg(long)]
        password_stdin: bool,
        /// Permissions (repeatable) [default: all eight]
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role, permissions, password or status
    Update {
        /// The user's email
        email: String,
        /// New role
        #[arg(long, value_parser = ["agent", "admin"])]
        role: Option<String>,
        /// Permissions, replacing the whole set (repeatable)
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
        /// Disable the user (their tokens stop working)
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable the user again
        #[arg(long)]
        enable: bool,
        /// Read a new password from standard input
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List users (of the account named `default` unless told otherwise)
    List {
        /// Which account's users
        #[command(flatten)]
        accounts: AccountScope,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token; the plaintext is printed this once
    Create {
        /// The owner's email
        #[arg(long)]
        user: String,
        /// A name for people
        #[arg(long)]
        name: String,
        /// Scopes (repeatable, at least one)
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// Expire after this long (e.g. 90d)
        #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// Expire at this RFC 3339 time
        #[arg(long, value_name = "RFC3339")]
        expires_at: Option<String>,
        /// Only accept calls from here (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Own rate limits instead of the defaults (repeatable, e.g. 5/1s)
        #[arg(long = "limit", value_name = "N/WINDOW")]
        limits: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List tokens, never their secrets (of the account named `default` unless told otherwise)
    List {
        /// Which account's tokens (with --user: that user's)
        #[command(flatten)]
        accounts: AccountScope,
        /// Only this user's tokens (in whichever account the user is)
        #[arg(long)]
        user: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one token
    Show {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a token's name, expiry, allow-list or limits
    Update {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// Expire after this long from now
        #[arg(long, value_name = "DURATION", conflicts_with_all = ["expires_at", "no_expiry"])]
        expires_in: Option<String>,
        /// Expire at this RFC 3339 time
        #[arg(long, value_name = "RFC3339", conflicts_with = "no_expiry")]
        expires_at: Option<String>,
        /// Never expire
        #[arg(long)]
        no_expiry: bool,
        /// Allow-list, replacing the current one (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Remove the allow-list
        #[arg(long, conflicts_with = "allow_ip")]
        clear_allow_ip: bool,
        /// Limits, replacing the current ones (repeatable)
        #[arg(long = "limit", value_name = "N/WINDOW")]
        limits: Vec<String>,
        /// Go back to the server's default limits
        #[arg(long, conflicts_with = "limits")]
        default_limits: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once (or all of a user's or an account's with --all)
    Revoke {
        /// Numeric id or prefix
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id_or_prefix: Option<String>,
        /// Revoke every live token of --user or --account
        #[arg(long)]
        all: bool,
        /// With --all: this user's tokens
        #[arg(long, requires = "all", conflicts_with = "account")]
        user: Option<String>,
        /// With --all: this account's tokens
        #[arg(long, requires = "all")]
        account: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Replace a token with a new one; the old one works for --grace more
    Rotate {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// How long the old token keeps working (default: it dies at once)
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// `webhook` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Add an endpoint; its signing secret is printed this once
    Add {
        /// Where to send deliveries
        #[arg(long)]
        url: String,
        /// Event types (repeatable; `*` for all)
        #[arg(long = "event", value_name = "TYPE", required = true)]
        events: Vec<String>,
        /// Account name
        #[arg(long, default_value = crate::manage::accounts::DEFAULT)]
        account: String,
        /// What it is for
        #[arg(long)]
        description: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List endpoints (of the account named `default` unless told otherwise)
    List {
        /// Which account's endpoints
        #[command(flatten)]
        accounts: AccountScope,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint and its deliveries
    Remove {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List deliveries, newest first, with their last attempt (of the account named `default`
    /// unless told otherwise)
    Deliveries {
        /// Only this endpoint's deliveries (in whichever account the endpoint is)
        #[arg(long, value_name = "ID")]
        endpoint: Option<i64>,
        /// Only deliveries in this state
        #[arg(long, value_parser = ["pending", "delivered", "failed", "dead", "paused"])]
        status: Option<String>,
        /// Which account's deliveries (with --endpoint: that endpoint's)
        #[command(flatten)]
        accounts: AccountScope,
        /// How many to show
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show every attempt at one delivery
    Attempts {
        /// Delivery id
        delivery_id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Send a delivery again (dead ones too) with the same webhook-id
    Replay {
        /// Delivery id
        delivery_id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Enable an endpoint; its paused deliveries go out
    Enable {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Disable an endpoint; its new deliveries wait, paused
    Disable {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Give an endpoint a new signing secret (printed once); the old one signs too for 24 h
    RotateSecret {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Queue a `webhook.test` delivery to one endpoint
    Test {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}
