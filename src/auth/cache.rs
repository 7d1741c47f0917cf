//! The auth caches: token hash -> everything the guard needs about the token, its user and
//! its account (one entry, so a warm call does no disk I/O), a bounded negative cache for
//! unknown hashes, and the rate limiters. Invalidated explicitly on every change.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use ipnet::IpNet;
use moka::sync::Cache;

use super::allow_list;
use super::rate_limit::{Bucket, LONGEST_WINDOW, Limit, RateLimiter, policy_header};
use super::recent;
use super::scope::ScopeSet;
use super::token::TokenHash;
use crate::model::{AccountId, Plan, Role, SubscriptionStatus, TokenId, UserId};
use crate::store::tokens::AuthRow;
use crate::store::{Store, StoreError};

/// Everything known about a token at the time it was cached.
#[derive(Debug)]
pub struct CachedToken {
    /// Token id.
    pub id: TokenId,
    /// Prefix.
    pub prefix: String,
    /// Name.
    pub name: String,
    /// The token's own scopes.
    pub scopes: ScopeSet,
    /// Token allow-list.
    pub allow_ips: Vec<IpNet>,
    /// Effective limits (the token's or the defaults).
    pub limits: Arc<[Limit]>,
    /// `RateLimit-Policy` for those limits, computed and checked once.
    pub policy_header: HeaderValue,
    /// Whether the limits are the server defaults.
    pub default_limits: bool,
    /// The token's rate-limit windows, held here so a call's check needs no lookup of its
    /// own (the limiter keeps them too, so they outlive this entry).
    pub rate: Bucket,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
    /// End of a rotation's grace (ms).
    pub grace_until: Option<i64>,
    /// User.
    pub user_id: UserId,
    /// User email.
    pub user_email: String,
    /// User role.
    pub role: Role,
    /// User permissions.
    pub permissions: ScopeSet,
    /// User disabled.
    pub user_disabled: bool,
    /// Account.
    pub account_id: AccountId,
    /// Account name.
    pub account_name: String,
    /// Plan.
    pub plan: Plan,
    /// Subscription status.
    pub status: SubscriptionStatus,
    /// Account allow-list.
    pub account_allow_ips: Vec<IpNet>,
}

impl CachedToken {
    fn from_row(
        row: AuthRow,
        defaults: &Arc<[Limit]>,
        limiter: &RateLimiter<TokenId>,
    ) -> Result<CachedToken, StoreError> {
        let corrupt = |e: String| StoreError::Corrupt(e);
        let (limits, default_limits): (Arc<[Limit]>, bool) = match &row.limits {
            Some(l) => (Limit::parse_list(l).map_err(corrupt)?.into(), false),
            None => (defaults.clone(), true),
        };
        Ok(CachedToken {
            rate: limiter.bucket(&row.token_id, &limits),
            id: row.token_id,
            prefix: row.prefix,
            name: row.name,
            scopes: ScopeSet::from_bits(row.scopes),
            allow_ips: allow_list::parse_list(&row.allow_ips).map_err(corrupt)?,
            policy_header: policy_header(&limits),
            limits,
            default_limits,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            grace_until: row.grace_until,
            user_id: row.user_id,
            user_email: row.user_email,
            role: row.role,
            permissions: ScopeSet::from_bits(row.permissions),
            user_disabled: row.user_disabled,
            account_id: row.account_id,
            account_name: row.account_name,
            plan: row.plan,
            status: row.status,
            account_allow_ips: allow_list::parse_list(&row.account_allow_ips).map_err(corrupt)?,
        })
    }

    /// The scopes the token may use now: its own, narrowed by its user's permissions.
    pub fn effective_scopes(&self) -> ScopeSet {
        self.scopes.intersect(self.permissions)
    }
}

/// Settings of the auth path.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Limits for tokens without their own.
    pub default_limits: Vec<Limit>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Callers never rate limited.
    pub rate_limit_exempt: Vec<IpNet>,
    /// Failed authentications allowed per client address.
    pub failed_auth_limit: Limit,
}

/// Shared auth state: caches, limiters, settings.
pub struct AuthState {
    pub(super) store: Store,
    /// Each entry with the epoch its row was read in (see `load`).
    tokens: Cache<TokenHash, (u64, Arc<CachedToken>)>,
    /// Hashes no token has, with the epoch they were looked up in.
    unknown: Cache<TokenHash, u64>,
    pub(super) limiter: RateLimiter<TokenId>,
    pub(super) failed: RateLimiter<IpAddr>,
    pub(super) failed_limits: Arc<[Limit]>,
    default_limits: Arc<[Limit]>,
    pub(super) settings: AuthSettings,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Moved on by `invalidate_all`. A cached answer counts only if it was read in the
    /// current epoch (or a later one): the workers' look-asides (`recent`) and the shared
    /// caches alike. Drawn from `EPOCHS`, so no two states in a process share one.
    epoch: AtomicU64,
}

/// Where every `AuthState`'s epochs come from (see `AuthState::epoch`).
static EPOCHS: AtomicU64 = AtomicU64::new(1);

fn next_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

// Capacities keep the process within its memory budget (about 40 MB under load) whatever a
// flood of tokens or addresses looks like: a moka entry costs a few hundred bytes.
/// Tokens remembered at most (a small business has dozens); each entry is well under 1 KiB.
const TOKEN_CACHE_CAPACITY: u64 = 10_000;
/// Unknown hashes remembered at most, so a flood of made-up tokens stays cheap and bounded.
const NEGATIVE_CACHE_CAPACITY: u64 = 20_000;
/// Client addresses tracked by the failed-auth limiter at most.
const FAILED_AUTH_CAPACITY: u64 = 20_000;
/// How long a cached token lives without a change.
const TOKEN_TTL: Duration = Duration::from_secs(300);

impl AuthState {
    /// Builds the caches over `store`.
    pub fn new(store: Store, settings: AuthSettings) -> AuthState {
        let failed_limits: Arc<[Limit]> = vec![settings.failed_auth_limit].into();
        let failed_idle = Duration::from_secs(settings.failed_auth_limit.window_s);
        AuthState {
            store,
            tokens: Cache::builder()
                .max_capacity(TOKEN_CACHE_CAPACITY)
                // A safety net only: every change invalidates explicitly.
                .time_to_live(TOKEN_TTL)
                .build(),
            unknown: Cache::builder()
                .max_capacity(NEGATIVE_CACHE_CAPACITY)
                .time_to_live(Duration::from_secs(30))
                .build(),
            // A cached token holds its windows and looks them up again only when it is
            // reloaded: at the latest one TTL after the last time.
            limiter: RateLimiter::new(TOKEN_CACHE_CAPACITY, LONGEST_WINDOW + TOKEN_TTL),
            failed: RateLimiter::new(FAILED_AUTH_CAPACITY, failed_idle),
            failed_limits,
            default_limits: settings.default_limits.clone().into(),
            settings,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            epoch: AtomicU64::new(next_epoch()),
        }
    }

    /// The cached entry for a hash, if warm: from this worker's look-aside, else from the
    /// shared cache. `Some(None)`: known not to exist.
    pub(super) fn cached(&self, hash: &TokenHash, now_ms: i64) -> Option<Option<Arc<CachedToken>>> {
        // Read before the shared cache, never after: an entry taken from it is kept under
        // the epoch it was taken in, and an `invalidate_all` meanwhile makes that one old.
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some(t) = recent::get(epoch, hash, now_ms) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(Some(t));
        }
        if let Some((read_in, t)) = self.tokens.get(hash)
            && read_in >= epoch
        {
            recent::put(epoch, hash, &t, now_ms);
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(Some(t));
        }
        if self
            .unknown
            .get(hash)
            .is_some_and(|read_in| read_in >= epoch)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(None);
        }
        None
    }

    /// One indexed lookup on a miss, on a pooled connection, on the calling thread; fills the
    /// caches.
    pub(super) fn load(&self, hash: &TokenHash) -> Result<Option<Arc<CachedToken>>, StoreError> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        // Before the read. A change that commits after it, and the `invalidate_all` that
        // follows, may come before this entry is cached: it then carries the old epoch, and
        // `cached` does not take it, where it used to outlive the change (up to the TTL).
        let epoch = self.epoch.load(Ordering::Acquire);
        let row = self
            .store
            .read(|c| crate::store::tokens::find_auth_by_hash(c, hash))?;
        self.fill(hash, row, epoch)
    }

    /// Caches what a look-up read in `epoch`, and returns it.
    fn fill(
        &self,
        hash: &TokenHash,
        row: Option<AuthRow>,
        epoch: u64,
    ) -> Result<Option<Arc<CachedToken>>, StoreError> {
        match row {
            Some(row) => {
                let entry = Arc::new(CachedToken::from_row(
                    row,
                    &self.default_limits,
                    &self.limiter,
                )?);
                self.tokens.insert(*hash, (epoch, entry.clone()));
                Ok(Some(entry))
            }
            None => {
                self.unknown.insert(*hash, epoch);
                Ok(None)
            }
        }
    }

    /// Drops every cached token (after any change to tokens, users or accounts).
    pub fn invalidate_all(&self) {
        self.tokens.invalidate_all();
        self.unknown.invalidate_all();
        // After the shared caches: a worker that reads the new epoch finds them emptied. The
        // largest wins when two changes race, so the epoch never goes back.
        self.epoch.fetch_max(next_epoch(), Ordering::Release);
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Cache hits and misses so far, for metrics.
    pub fn cache_stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Entries held by each bounded structure (approximate), for metrics: a soak shows
    /// whether they level off at their capacities.
    pub fn cache_sizes(&self) -> [(&'static str, u64, u64); 4] {
        [
            ("token", self.tokens.entry_count(), TOKEN_CACHE_CAPACITY),
            (
                "unknown_token",
                self.unknown.entry_count(),
                NEGATIVE_CACHE_CAPACITY,
            ),
            ("rate_limit", self.limiter.len(), TOKEN_CACHE_CAPACITY),
            ("failed_auth", self.failed.len(), FAILED_AUTH_CAPACITY),
        ]
    }

    /// Peeks at a token's rate-limit windows without charging.
    pub fn rate_state(&self, token: &CachedToken) -> super::rate_limit::Verdict {
        self.limiter.peek_bucket(&token.rate, &token.limits)
    }

    /// Starts a token's rate-limit windows whole again (cached entries included: they
    /// share the limiter's windows).
    pub fn forget_rate_state(&self, id: TokenId) {
        self.limiter.forget(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::manage::tokens::{Expiry, TokenInput};
    use crate::manage::users::UserInput;
    use crate::manage::{self, ManageError};
    use crate::store::{self, tokens::find_auth_by_hash};
    use rusqlite::Connection;

    /// A change made the way the CLI and the admin API make one.
    fn change<R>(auth: &AuthState, f: impl FnOnce(&Connection) -> Result<R, ManageError>) -> R {
        let mut conn = store::open_connection(auth.store.path()).unwrap();
        store::with_management_tx(&mut conn, f).unwrap()
    }

    /// An `AuthState` over a fresh database holding one account, its admin and a token;
    /// and the token's hash and prefix.
    fn auth_with_token() -> (tempfile::TempDir, AuthState, TokenHash, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("auth.db"), 1, None).unwrap();
        let limits = Limit::parse_list(&["100/1s"]).unwrap();
        let auth = AuthState::new(
            store,
            AuthSettings {
                default_limits: limits.clone(),
                trusted_proxies: Vec::new(),
                rate_limit_exempt: Vec::new(),
                failed_auth_limit: limits[0],
            },
        );
        let created = change(&auth, |c| {
            manage::accounts::create(c, "acme", Plan::Pro, SubscriptionStatus::Active)?;
            manage::users::add(
                c,
                UserInput {
                    email: "boss@acme.test".into(),
                    name: None,
                    role: Role::Admin,
                    account: "acme".into(),
                    permissions: None,
                    password: None,
                },
            )?;
            manage::tokens::create(
                c,
                TokenInput {
                    user_email: "boss@acme.test".into(),
                    name: "import".into(),
                    scopes: vec!["leads:read".into()],
                    expiry: Expiry::Never,
                    allow_ips: Vec::new(),
                    limits: None,
                },
            )
        });
        let hash = super::super::token::hash(&created.plaintext);
        (dir, auth, hash, created.token.prefix)
    }

    fn revoke(auth: &AuthState, prefix: &str) {
        change(auth, |c| manage::tokens::revoke(c, prefix, "manual"));
    }

    #[test]
    fn after_a_change_no_cache_answers_with_what_came_before() {
        let (_dir, auth, hash, prefix) = auth_with_token();
        let now = clock::now_ms();
        assert!(auth.cached(&hash, now).is_none(), "cold");
        assert!(auth.load(&hash).unwrap().unwrap().revoked_at.is_none());
        // The shared cache answers and fills this thread's look-aside, which answers next.
        for _ in 0..2 {
            assert!(auth.cached(&hash, now).unwrap().is_some());
        }
        revoke(&auth, &prefix);
        auth.invalidate_all();
        assert!(auth.cached(&hash, now).is_none(), "looked up again");
        assert!(auth.load(&hash).unwrap().unwrap().revoked_at.is_some());
        assert!(
            auth.cached(&hash, now)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
    }

    #[test]
    fn a_look_up_read_before_a_change_and_cached_after_it_is_not_taken() {
        let (_dir, auth, hash, prefix) = auth_with_token();
        let now = clock::now_ms();
        // A slow miss: its epoch and its row are read before the change commits...
        let epoch = auth.epoch.load(Ordering::Acquire);
        let before = auth.store.read(|c| find_auth_by_hash(c, &hash)).unwrap();
        let unknown = [7; 32];
        let nothing = auth.store.read(|c| find_auth_by_hash(c, &unknown)).unwrap();
        revoke(&auth, &prefix);
        auth.invalidate_all();
        // ...and reach the caches after the change's `invalidate_all`.
        assert!(auth.fill(&hash, before, epoch).unwrap().is_some());
        assert!(auth.fill(&unknown, nothing, epoch).unwrap().is_none());
        assert!(auth.cached(&hash, now).is_none(), "the row read before");
        assert!(auth.cached(&unknown, now).is_none(), "the miss read before");
        assert!(auth.load(&hash).unwrap().unwrap().revoked_at.is_some());
    }

    #[test]
    fn two_states_in_one_thread_never_answer_with_each_other_s_tokens() {
        let (_a_dir, a, hash, _) = auth_with_token();
        let (_b_dir, b, _, _) = auth_with_token();
        let now = clock::now_ms();
        a.load(&hash).unwrap();
        assert!(
            a.cached(&hash, now).unwrap().is_some(),
            "in this thread's look-aside"
        );
        assert!(b.cached(&hash, now).is_none(), "b has no such token");
        assert!(b.load(&hash).unwrap().is_none());
        assert!(a.cached(&hash, now).unwrap().is_some());
    }
}
