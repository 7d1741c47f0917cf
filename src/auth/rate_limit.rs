//! Rate limits: several windows per key at once, each a GCRA (generic cell rate algorithm).
//! A call passes only when every window has room, and is charged to all of them or to none,
//! so a refusal in one window never uses up another. State lives in a bounded moka cache.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use moka::sync::Cache;

/// The windows a limit may use.
const WINDOWS: [(&str, u64); 4] = [("1s", 1), ("10s", 10), ("1m", 60), ("1h", 3_600)];
/// The longest window: a key's state is whole again this long after its last call.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(WINDOWS[WINDOWS.len() - 1].1);

/// One limit: `quota` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Calls allowed per window.
    pub quota: u32,
    /// The window's name: `1s`, `10s`, `1m` or `1h`.
    pub window: &'static str,
    /// The window in seconds.
    pub window_s: u64,
}

impl Limit {
    /// Parses `20/1s`.
    pub fn parse(s: &str) -> Result<Limit, String> {
        let bad = || format!("`{s}` is not a limit like 20/1s (windows: 1s, 10s, 1m, 1h)");
        let (n, w) = s.trim().split_once('/').ok_or_else(bad)?;
        let quota: u32 = n.parse().map_err(|_| bad())?;
        let &(window, window_s) = WINDOWS
            .iter()
            .find(|(name, _)| *name == w)
            .ok_or_else(bad)?;
        if quota == 0 || quota > 1_000_000 {
            return Err(format!("`{s}`: the quota must be between 1 and 1000000"));
        }
        Ok(Limit {
            quota,
            window,
            window_s,
        })
    }

    /// Parses a list of limits; at most one per window.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Limit>, String> {
        let mut out: Vec<Limit> = Vec::new();
        for s in items {
            let l = Limit::parse(s.as_ref())?;
            if out.iter().any(|o| o.window == l.window) {
                return Err(format!("two limits for the {} window", l.window));
            }
            out.push(l);
        }
        out.sort_by_key(|l| l.window_s);
        Ok(out)
    }

    fn window_ns(&self) -> u64 {
        self.window_s * 1_000_000_000
    }

    fn interval_ns(&self) -> u64 {
        self.window_ns() / u64::from(self.quota)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.quota, self.window)
    }
}

/// The product's default limits: `20/1s`, `200/10s`, `1000/1m`.
pub fn default_limits() -> Vec<Limit> {
    Limit::parse_list(&["20/1s", "200/10s", "1000/1m"]).expect("valid defaults")
}

/// The IETF `RateLimit-Policy` value for a set of limits, ready to be sent (each token's is
/// made once, when the token is cached).
pub fn policy_header(limits: &[Limit]) -> HeaderValue {
    let text = limits
        .iter()
        .map(|l| format!("\"{}\";q={};w={}", l.window, l.quota, l.window_s))
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::try_from(text).expect("window names and numbers are visible ASCII")
}

/// The state of one window after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    /// The limit.
    pub limit: Limit,
    /// Calls left right now.
    pub remaining: u64,
    /// Seconds until the window is whole again.
    pub reset_s: u64,
}

/// The outcome of a check.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Whether the call may go ahead (and was charged).
    pub allowed: bool,
    /// When refused: whole seconds until a retry can pass (never less than the real wait).
    pub retry_after_s: u64,
    /// Every window, after the check.
    pub windows: Vec<WindowState>,
}

impl Verdict {
    /// The window with the smallest remaining share, for the `RateLimit` field; of windows
    /// with the same share, the one that is whole again last (so that beside a 429 its `t`
    /// agrees with `Retry-After`).
    pub fn tightest(&self) -> Option<&WindowState> {
        self.windows.iter().min_by(|a, b| {
            // Compare remaining/quota without floating point.
            (a.remaining * u64::from(b.limit.quota))
                .cmp(&(b.remaining * u64::from(a.limit.quota)))
                .then(b.reset_s.cmp(&a.reset_s))
        })
    }

    /// The IETF `RateLimit` value, ready to be sent.
    pub fn header(&self) -> Option<HeaderValue> {
        // Written piece by piece: `format!` was a fifth of what the call's telemetry cost.
        let w = self.tightest()?;
        let (mut remaining, mut reset) = (itoa::Buffer::new(), itoa::Buffer::new());
        let parts = [
            "\"",
            w.limit.window,
            "\";r=",
            remaining.format(w.remaining),
            ";t=",
            reset.format(w.reset_s),
        ];
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
        // Exactly as long as its room, so `Bytes` takes it whole: no copy, no second
        // allocation. A window's name and numbers are visible ASCII.
        HeaderValue::from_maybe_shared(Bytes::from(out)).ok()
    }
}

struct Buckets {
    limits: Arc<[Limit]>,
    /// Theoretical arrival time per window, in ns since the limiter's epoch.
    tat: Vec<u64>,
}

/// One key's windows, as the limiter holds them. A caller that checks the same key on
/// every call (a cached token) keeps this handle, so a check needs no cache lookup of its own.
#[derive(Clone)]
pub struct Bucket(Arc<Mutex<Buckets>>);

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bucket")
    }
}

/// Multi-window GCRA limiter keyed by `K` (a token id, a client address).
pub struct RateLimiter<K: Hash + Eq + Send + Sync + 'static> {
    buckets: Cache<K, Arc<Mutex<Buckets>>>,
    epoch: Instant,
    /// No key refuses a call from this moment on (ns since `epoch`), unless a later check
    /// moves it: raised, under the bucket's lock, whenever a check leaves a bucket's windows
    /// able to refuse a call after it. [`blocked`](Self::blocked) is asked on every API call,
    /// for the caller's address, and answers from this alone while no address has failed
    /// lately, without a cache look-up.
    refuse_until: AtomicU64,
}

impl<K: Hash + Eq + Send + Sync + Clone + 'static> RateLimiter<K> {
    /// A limiter remembering at most `capacity` keys; a key not looked up for `idle` is
    /// dropped. `idle` must be at least the longest window (its state is then whole again
    /// anyway) plus the longest a holder of its [`Bucket`] goes without looking it up.
    pub fn new(capacity: u64, idle: Duration) -> Self {
        RateLimiter {
            buckets: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
            epoch: Instant::now(),
            refuse_until: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The key's windows: the ones already tracked, or new whole ones (then tracked).
    /// A holder's checks do not count as lookups: it must look the key up again at least
    /// once per idle period (see [`new`](Self::new)).
    pub fn bucket(&self, key: &K, limits: &Arc<[Limit]>) -> Bucket {
        Bucket(self.buckets.get_with(key.clone(), || {
            Arc::new(Mutex::new(Buckets {
                limits: limits.clone(),
                tat: vec![0; limits.len()],
            }))
        }))
    }

    /// Checks one call against every window and charges it only if all have room.
    pub fn check(&self, key: &K, limits: &Arc<[Limit]>) -> Verdict {
        self.check_at(key, limits, self.now_ns(), true)
    }

    /// The windows' state without charging a call.
    pub fn peek(&self, key: &K, limits: &Arc<[Limit]>) -> Verdict {
        self.check_at(key, limits, self.now_ns(), false)
    }

    /// As [`check`](Self::check), on windows the caller holds (see [`Bucket`]).
    pub fn check_bucket(&self, bucket: &Bucket, limits: &Arc<[Limit]>) -> Verdict {
        judge(bucket, limits, self.now_ns(), true, &self.refuse_until)
    }

    /// As [`peek`](Self::peek), on windows the caller holds.
    pub fn peek_bucket(&self, bucket: &Bucket, limits: &Arc<[Limit]>) -> Verdict {
        judge(bucket, limits, self.now_ns(), false, &self.refuse_until)
    }

    fn check_at(&self, key: &K, limits: &Arc<[Limit]>, now: u64, charge: bool) -> Verdict {
        judge(
            &self.bucket(key, limits),
            limits,
            now,
            charge,
            &self.refuse_until,
        )
    }

    /// When the key is tracked and a call now would be refused: whole seconds until one
    /// can pass. Tracks nothing new; while no key could refuse, not even a look-up.
    pub fn blocked(&self, key: &K) -> Option<u64> {
        self.blocked_at(key, self.now_ns())
    }

    fn blocked_at(&self, key: &K, now: u64) -> Option<u64> {
        if now >= self.refuse_until.load(Ordering::Acquire) {
            return None;
        }
        let bucket = Bucket(self.buckets.get(key)?);
        let limits = bucket
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .limits
            .clone();
        let verdict = judge(&bucket, &limits, now, false, &self.refuse_until);
        (!verdict.allowed).then_some(verdict.retry_after_s)
    }

    /// Starts a key's windows whole again, for every holder of its [`Bucket`].
    pub fn forget(&self, key: &K) {
        if let Some(bucket) = self.buckets.get(key) {
            let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
            b.tat.fill(0);
        }
    }

    /// Keys currently tracked (approximate), for metrics.
    pub fn len(&self) -> u64 {
        self.buckets.entry_count()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks one call at `now` against every window of `bucket`; charges it when `charge` and
/// every window has room. Raises `refuse_until` past the last moment these windows, as they
/// now stand, could refuse a call.
fn judge(
    bucket: &Bucket,
    limits: &Arc<[Limit]>,
    now: u64,
    charge: bool,
    refuse_until: &AtomicU64,
) -> Verdict {
    let mut b = bucket.0.lock().unwrap_or_else(|p| p.into_inner());
    if *b.limits != **limits {
        // The token's limits changed. A window it keeps keeps the calls it has counted, so
        // that an update (a window added, a quota changed) lets no extra calls through; a new
        // window starts whole.
        let tat = limits.iter().map(|l| carried_over(&b, l, now)).collect();
        *b = Buckets {
            limits: limits.clone(),
            tat,
        };
    }
    let mut allowed = true;
    let mut wait_ns = 0u64;
    for (l, &tat) in limits.iter().zip(&b.tat) {
        let window_ns = l.window_ns();
        let new_tat = charged_tat(l, tat, now);
        if new_tat - now > window_ns {
            allowed = false;
            wait_ns = wait_ns.max(new_tat - now - window_ns);
        }
    }
    if allowed && charge {
        for (l, tat) in limits.iter().zip(b.tat.iter_mut()) {
            *tat = charged_tat(l, *tat, now);
        }
    }
    // A window refuses at `t` while its arrival time, plus one interval, is more than the
    // window ahead of `t`. Only windows that could refuse from now on move the bound: a
    // token's calls well within its limits leave the shared atomic alone.
    let last_refusal = limits
        .iter()
        .zip(&b.tat)
        .map(|(l, &tat)| (tat + l.interval_ns()).saturating_sub(l.window_ns()))
        .max()
        .unwrap_or(0);
    if last_refusal > now {
        refuse_until.fetch_max(last_refusal, Ordering::AcqRel);
    }
    let windows = limits
        .iter()
        .zip(&b.tat)
        .map(|(l, &tat)| {
            let window_ns = l.window_ns();
            let used = tat.saturating_sub(now);
            let remaining = window_ns.saturating_sub(used) / l.interval_ns();
            WindowState {
                limit: *l,
                remaining: remaining.min(u64::from(l.quota)),
                reset_s: used.div_ceil(1_000_000_000),
            }
        })
        .collect();
    Verdict {
        allowed,
        retry_after_s: if allowed {
            0
        } else {
            wait_ns.div_ceil(1_000_000_000).max(1)
        },
        windows,
    }
}

/// A window's arrival time once a call at `now` is counted in it.
fn charged_tat(l: &Limit, tat: u64, now: u64) -> u64 {
    tat.max(now) + l.interval_ns()
}

/// The state of the window `new` takes over from the same window under the old limits: the
/// calls counted in it (the time they use, over the old interval), at the new interval.
fn carried_over(old: &Buckets, new: &Limit, now: u64) -> u64 {
    old.limits
        .iter()
        .zip(&old.tat)
        .find(|(l, _)| l.window_s == new.window_s)
        .map_or(0, |(l, &tat)| {
            let used = u128::from(tat.saturating_sub(now));
            let moved = used * u128::from(new.interval_ns()) / u128::from(l.interval_ns());
            now.saturating_add(u64::try_from(moved).unwrap_or(u64::MAX))
        })
}

#[cfg(test)]
mod tests;
