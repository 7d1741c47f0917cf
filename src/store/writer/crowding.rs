//! Whether callers queue up behind the writer. A commit that answers many callers at once
//! means requests come in faster than the writer and the disk turn them round: a burst of
//! API writes has the processor or the disk to itself and still keeps callers waiting. Work
//! nobody waits on steps aside while it lasts (webhook attempts, see `webhooks::pool`; the
//! filing of new records, see `store::filing`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Callers answered by one commit from which on the writer counts as crowded. One or two
/// are the usual share of a commit while callers come one by one; a burst of creates from 64
/// connections put 39-42 in each.
pub const CROWDED_AT: usize = 8;
/// How long after a crowded commit the writer still counts as crowded. Under a burst a commit
/// ends every 2-3 ms; a tenth of a second without a crowded one means the burst is over.
pub const CROWDED_FOR: Duration = Duration::from_millis(100);

/// When the writer last committed for a crowd of callers.
#[derive(Debug)]
pub(super) struct Crowding {
    since: Instant,
    /// When the last crowded commit ended, in microseconds after `since`, plus one: 0 means
    /// never.
    last: AtomicU64,
    /// When the current crowd began (its first crowded commit), in the same unit.
    began: AtomicU64,
    /// Crowded commits so far, for metrics.
    commits: AtomicU64,
}

impl Default for Crowding {
    fn default() -> Self {
        Crowding {
            since: Instant::now(),
            last: AtomicU64::new(0),
            began: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        }
    }
}

impl Crowding {
    /// Counts a commit that answered `callers` waiting callers.
    pub(super) fn note_commit(&self, callers: usize) {
        self.note_commit_at(callers, self.now());
    }

    /// How long the writer has been crowded, when it is: since the first of the crowded
    /// commits that came within `CROWDED_FOR` of each other, up to now.
    pub(super) fn crowded_for(&self) -> Option<Duration> {
        self.crowded_for_at(self.now())
    }

    /// Crowded commits so far.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Only the writer thread calls this, so the two marks never race each other. A new
    /// crowd's beginning is stored before its first `last` (release), and a reader loads
    /// `last` first (acquire): one that sees the new crowd sees when it began.
    fn note_commit_at(&self, callers: usize, now: u64) {
        if callers >= CROWDED_AT {
            if self.crowded_for_at(now).is_none() {
                self.began.store(now.saturating_add(1), Ordering::Relaxed);
            }
            self.last.store(now.saturating_add(1), Ordering::Release);
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn crowded_for_at(&self, now: u64) -> Option<Duration> {
        let last = self.last.load(Ordering::Acquire).checked_sub(1)?;
        if now.saturating_sub(last) >= CROWDED_FOR.as_micros() as u64 {
            return None;
        }
        let began = self.began.load(Ordering::Relaxed).saturating_sub(1);
        Some(Duration::from_micros(now.saturating_sub(began)))
    }

    /// Microseconds since `since`.
    fn now(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_for_a_crowd_counts_for_a_while_one_for_a_few_callers_never() {
        let window = CROWDED_FOR.as_micros() as u64;
        let c = Crowding::default();
        let crowded = |now| c.crowded_for_at(now).is_some();
        assert!(!crowded(0), "no commit yet");
        c.note_commit_at(CROWDED_AT - 1, 1_000);
        assert!(!crowded(1_000), "a few callers are no crowd");
        c.note_commit_at(CROWDED_AT, 0);
        assert!(crowded(0), "a crowd at the very start counts");
        c.note_commit_at(CROWDED_AT, 5_000);
        assert!(crowded(5_000));
        assert!(crowded(5_000 + window - 1));
        assert!(!crowded(5_000 + window), "the crowd is over");
        c.note_commit_at(CROWDED_AT - 1, 5_000 + window);
        assert!(!crowded(5_000 + window), "a small commit does not renew it");
        assert_eq!(c.commits(), 2);
        // With the real clock: crowded, unless this thread waited a whole window in between.
        let c = Crowding::default();
        let before = Instant::now();
        c.note_commit(CROWDED_AT);
        let crowded = c.crowded_for().is_some();
        assert!(crowded || before.elapsed() >= CROWDED_FOR);
        assert_eq!(c.commits(), 1);
    }

    #[test]
    fn a_crowd_ages_from_its_first_commit_until_a_window_passes_without_one() {
        let window = CROWDED_FOR.as_micros() as u64;
        let c = Crowding::default();
        let us = Duration::from_micros;
        // Crowded commits a little less than a window apart: one crowd.
        let mut t = 10_000;
        c.note_commit_at(CROWDED_AT, t);
        for _ in 0..50 {
            t += window - 1;
            c.note_commit_at(CROWDED_AT, t);
        }
        assert_eq!(c.crowded_for_at(t), Some(us(t - 10_000)));
        assert_eq!(c.crowded_for_at(t + 7), Some(us(t + 7 - 10_000)));
        // A window without one ends it; the next crowded commit begins another.
        t += window;
        assert_eq!(c.crowded_for_at(t), None);
        c.note_commit_at(CROWDED_AT, t);
        assert_eq!(c.crowded_for_at(t + 5), Some(us(5)));
    }
}
