//! The `token` commands' flags.

use clap::Subcommand;

use super::AccountScope;

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
