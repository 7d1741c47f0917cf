//! Each server worker's own look-aside of the tokens it served last, in front of the shared
//! token cache: a warm call finds its token with a load of one counter and a look-up in a
//! small map no other thread touches, where moka's look-up hashes the key, walks its
//! concurrent table, reads the clock for the TTL and queues the read for its eviction policy
//! (1.7-2% of a point read's CPU samples on the benchmark's machine).
//!
//! It never answers with what the shared cache would no longer give:
//! - every entry carries the epoch of the `AuthState` it came from, and `invalidate_all`
//!   moves that epoch on once the shared caches are emptied, so the first call after any
//!   change to tokens, users or accounts goes back to the shared cache (and from there, for
//!   an entry read before the change, to the database: see `AuthState::load`);
//! - an entry is taken from the shared cache again after `MAX_AGE_MS`, so the shared cache's
//!   TTL and eviction still decide how long a token stays cached.
//!
//! Bounded: at most `CAPACITY` entries a worker thread, all dropped when a new one would
//! pass that. Only tokens that exist are kept (their hashes are SHA-256 outputs nobody
//! chooses); a flood of made-up ones goes to the shared negative cache as before.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::cache::CachedToken;
use super::token::TokenHash;

/// Entries a worker keeps: a small business has dozens of tokens (the benchmark 100).
const CAPACITY: usize = 256;

/// How long (ms) an entry serves before it is taken from the shared cache again.
const MAX_AGE_MS: i64 = 1_000;

/// One worker's entries: the logic, apart from the thread-local it lives in.
struct Recent<T> {
    /// The epoch the entries belong to.
    epoch: u64,
    /// Each token and when it was taken from the shared cache (ms, wall clock).
    entries: HashMap<TokenHash, (T, i64), foldhash::fast::RandomState>,
}

impl<T: Clone> Recent<T> {
    fn new() -> Recent<T> {
        Recent {
            epoch: 0,
            entries: HashMap::default(),
        }
    }

    /// Moves on to `epoch` if it is newer, emptying the look-aside; true when `epoch` is
    /// then the current one (an older one is a caller's reading from before a change).
    fn catch_up(&mut self, epoch: u64) -> bool {
        if epoch > self.epoch {
            self.entries.clear();
            self.epoch = epoch;
        }
        epoch == self.epoch
    }

    /// The token with `hash`, if taken from the shared cache of `epoch` less than
    /// `MAX_AGE_MS` before `now_ms`. A newer epoch empties the look-aside at once, so that
    /// an idle worker does not hold old tokens until its next `put`.
    fn get(&mut self, epoch: u64, hash: &TokenHash, now_ms: i64) -> Option<T> {
        if !self.catch_up(epoch) {
            return None;
        }
        // A clock before 1970 reads as 0 (`clock::now_ms`), where entries would never age.
        if now_ms <= 0 {
            return None;
        }
        let (token, taken_ms) = self.entries.get(hash)?;
        // A clock set back counts as expired, not as young.
        (0..MAX_AGE_MS)
            .contains(&(now_ms - taken_ms))
            .then(|| token.clone())
    }

    /// Keeps `token`, just taken from the shared cache of `epoch` (read before the shared
    /// cache was): a newer epoch empties the look-aside first; an older one keeps nothing,
    /// since the token may predate the change that moved the epoch on.
    fn put(&mut self, epoch: u64, hash: &TokenHash, token: T, now_ms: i64) {
        if !self.catch_up(epoch) {
            return;
        }
        if self.entries.len() >= CAPACITY && !self.entries.contains_key(hash) {
            self.entries.clear();
        }
        self.entries.insert(*hash, (token, now_ms));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

thread_local! {
    static RECENT: RefCell<Recent<Arc<CachedToken>>> = RefCell::new(Recent::new());
}

/// This worker's `Recent::get`.
pub(super) fn get(epoch: u64, hash: &TokenHash, now_ms: i64) -> Option<Arc<CachedToken>> {
    RECENT.with_borrow_mut(|r| r.get(epoch, hash, now_ms))
}

/// This worker's `Recent::put`.
pub(super) fn put(epoch: u64, hash: &TokenHash, token: &Arc<CachedToken>, now_ms: i64) {
    RECENT.with_borrow_mut(|r| r.put(epoch, hash, token.clone(), now_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u16) -> TokenHash {
        let mut h = [0; 32];
        h[..2].copy_from_slice(&n.to_be_bytes());
        h
    }

    #[test]
    fn a_token_serves_for_its_epoch_and_age_only() {
        let mut r = Recent::new();
        r.put(5, &hash(1), "a", 10_000);
        assert_eq!(r.get(5, &hash(1), 10_000), Some("a"));
        assert_eq!(r.get(5, &hash(1), 10_000 + MAX_AGE_MS - 1), Some("a"));
        assert_eq!(r.get(5, &hash(1), 10_000 + MAX_AGE_MS), None, "too old");
        assert_eq!(r.get(5, &hash(1), 9_999), None, "the clock went back");
        assert_eq!(r.get(5, &hash(2), 10_000), None, "another token");
        assert_eq!(r.get(4, &hash(1), 10_000), None, "an older epoch");
        assert_eq!(
            r.get(5, &hash(1), 10_000),
            Some("a"),
            "kept by an older one"
        );
        assert_eq!(r.get(6, &hash(1), 10_000), None, "the epoch moved on");
        assert_eq!(r.len(), 0, "and took the entries with it");
        assert_eq!(r.get(5, &hash(1), 10_000), None);
    }

    #[test]
    fn a_clock_before_1970_finds_nothing() {
        let mut r = Recent::new();
        r.put(1, &hash(1), "a", 0);
        assert_eq!(r.get(1, &hash(1), 0), None);
        assert_eq!(r.get(1, &hash(1), -5), None);
    }

    #[test]
    fn a_newer_epoch_empties_it_and_an_older_one_keeps_nothing() {
        let mut r = Recent::new();
        r.put(5, &hash(1), "a", 1);
        r.put(6, &hash(2), "b", 1);
        assert_eq!(r.len(), 1, "epoch 5's token went with its epoch");
        assert_eq!(r.get(6, &hash(2), 1), Some("b"));
        // Taken under epoch 5, before the change that made epoch 6: maybe stale.
        r.put(5, &hash(1), "a", 1);
        assert_eq!(r.get(5, &hash(1), 1), None);
        assert_eq!(r.get(6, &hash(1), 1), None);
        assert_eq!(r.get(6, &hash(2), 1), Some("b"));
    }

    #[test]
    fn it_holds_at_most_its_capacity() {
        let mut r = Recent::new();
        for n in 0..(CAPACITY as u16 * 3) {
            r.put(1, &hash(n), n, 1);
            assert!(r.len() <= CAPACITY);
            assert_eq!(r.get(1, &hash(n), 1), Some(n), "the newest is kept");
        }
        // Taken again, a token it holds does not empty it.
        let full = r.len();
        let last = CAPACITY as u16 * 3 - 1;
        r.put(1, &hash(last), last, 2);
        assert_eq!(r.len(), full);
    }
}
