//! Who is calling and what they may do: the token format, the request guard, scopes,
//! allow-lists, rate limits and the caches that keep the hot path off the disk.

pub mod allow_list;
mod cache;
pub mod client_ip;
mod guard;
pub mod password;
pub mod random;
pub mod rate_limit;
mod recent;
pub mod scope;
pub mod token;

pub use cache::{AuthSettings, AuthState, CachedToken};
pub use guard::{CallContext, Caller};
