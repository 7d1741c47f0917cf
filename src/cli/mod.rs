//! The command line: clap derive. Every global and `serve` flag has a `SWITCHBOARD_*`
//! environment variable; the values are merged with the config file in `config`.

mod account_cmds;
mod commands;
mod ops_cmd;
mod output;
mod report;
mod serve_args;
mod token_cmds;
mod user_cmds;
mod webhook_cmds;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use account_cmds::AccountCmd;
pub use commands::{main, run};
pub use report::parse_args;
pub use serve_args::{ConfigCmd, ServeArgs};
pub use token_cmds::TokenCmd;
pub use user_cmds::UserCmd;
pub use webhook_cmds::WebhookCmd;

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
