//! The stop signal the server's background threads share, and the loop most of them run.
//!
//! Between two passes a thread sleeps on the signal (`Stop::wait`), not in short naps that
//! look at a flag: it wakes for its next pass, or at once when the server stops. With naps
//! of 100-250 ms, an idle server's threads woke 23 times a second only to look at the flag
//! (27 with scheduled backups), and a stop waited for the longest sleep (the checkpointer's
//! 500 ms between passes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The signal, given once when the server stops. Clones share it.
#[derive(Clone, Default)]
pub struct Stop(Arc<Signal>);

#[derive(Default)]
struct Signal {
    given: AtomicBool,
    /// Who is woken when it is given.
    sleepers: Mutex<Vec<Sleeper>>,
}

/// A thread that waits for the signal.
enum Sleeper {
    /// Parked, in `wait`.
    Parked(Thread),
    /// On a condition variable of its own, which the hook notifies (`on_stop`).
    Hooked(Box<dyn FnOnce() + Send>),
}

impl Stop {
    /// Gives the signal: every waiting thread wakes.
    pub fn stop(&self) {
        // Before the list is read: a thread that joins the list after this finds it given.
        self.0.given.store(true, Ordering::SeqCst);
        // Woken outside the list's lock: a hook takes locks of its own.
        let sleepers = std::mem::take(&mut *self.sleepers());
        for sleeper in sleepers {
            match sleeper {
                Sleeper::Parked(t) => t.unpark(),
                Sleeper::Hooked(wake) => wake(),
            }
        }
    }

    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        self.0.given.load(Ordering::SeqCst)
    }

    /// Runs `wake` when the signal is given (at once if it was): for a thread that waits on
    /// its own terms (a condition variable, or the webhook worker's pokes), which an unpark
    /// alone does not end. A `wake` that notifies a condition variable must do so under its
    /// mutex, so that a thread between its look at the signal and its wait is not missed.
    pub fn on_stop(&self, wake: impl FnOnce() + Send + 'static) {
        let mut sleepers = self.sleepers();
        if self.is_stopped() {
            drop(sleepers);
            wake();
        } else {
            sleepers.push(Sleeper::Hooked(Box::new(wake)));
        }
    }

    /// Sleeps for `d`, or until the signal; true when it was given.
    pub fn wait(&self, d: Duration) -> bool {
        self.unpark_me_on_stop();
        // A wait too long to add to now (`Duration::MAX`) lasts until the signal.
        let until = Instant::now().checked_add(d);
        loop {
            if self.is_stopped() {
                return true;
            }
            match until {
                None => std::thread::park(),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    // May return early (an unpark meant for someone else's wait): looped.
                    std::thread::park_timeout(left);
                }
            }
        }
    }

    /// Runs `pass` until the signal, sleeping after each for as long as it says.
    pub fn repeat(&self, mut pass: impl FnMut() -> Duration) {
        while !self.is_stopped() {
            let pause = pass();
            if self.wait(pause) {
                return;
            }
        }
    }

    /// Has the signal unpark the calling thread (once, however often it waits). Registered
    /// before the thread looks at the signal: a signal given after that look unparks it, and
    /// an unpark that comes before its park ends the park at once.
    fn unpark_me_on_stop(&self) {
        let me = std::thread::current();
        let mut sleepers = self.sleepers();
        let known = sleepers
            .iter()
            .any(|s| matches!(s, Sleeper::Parked(t) if t.id() == me.id()));
        if !known {
            sleepers.push(Sleeper::Parked(me));
        }
    }

    fn sleepers(&self) -> MutexGuard<'_, Vec<Sleeper>> {
        self.0.sleepers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Condvar, mpsc};

    /// A wait the signal should end: one it failed to end lasts this long, and fails the
    /// test (`GENEROUS`) instead of hanging it.
    const LONG: Duration = Duration::from_secs(60);
    /// Far longer than a wait the signal ended takes.
    const GENEROUS: Duration = Duration::from_secs(30);
    /// Time for a thread that said it is about to wait to park. Only makes it likely that
    /// the signal finds the thread parked; the test holds either way.
    const SETTLE: Duration = Duration::from_millis(20);

    #[test]
    fn a_wait_without_the_signal_lasts_its_time() {
        let stop = Stop::default();
        let started = Instant::now();
        assert!(!stop.wait(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(!stop.is_stopped());
    }

    #[test]
    fn the_signal_ends_a_long_wait_on_another_thread_and_every_later_one_at_once() {
        let stop = Stop::default();
        let (entered, told) = mpsc::channel();
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                entered.send(()).unwrap();
                let started = Instant::now();
                (stop.wait(LONG), started.elapsed())
            })
        };
        told.recv().unwrap();
        std::thread::sleep(SETTLE);
        stop.stop();
        let (given, took) = waiter.join().unwrap();
        assert!(given);
        assert!(took < GENEROUS, "the wait ended after {took:?}");
        let started = Instant::now();
        assert!(stop.wait(LONG));
        assert!(stop.wait(Duration::MAX));
        assert!(started.elapsed() < GENEROUS);
    }

    #[test]
    fn repeat_runs_passes_until_the_signal_and_sleeps_what_each_says() {
        let stop = Stop::default();
        let passes = AtomicUsize::new(0);
        let started = Instant::now();
        stop.repeat(|| {
            let n = passes.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 3 {
                stop.stop();
                // Ended by the signal given above, not by its length.
                return LONG;
            }
            Duration::from_millis(10)
        });
        assert_eq!(passes.load(Ordering::SeqCst), 3);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(20) && took < GENEROUS,
            "{took:?}"
        );

        // Given from another thread during the pause after the first pass.
        let stop = Stop::default();
        let passes = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let (first, told) = mpsc::channel();
            let (stop, passes) = (&stop, &passes);
            s.spawn(move || {
                stop.repeat(|| {
                    if passes.fetch_add(1, Ordering::SeqCst) == 0 {
                        first.send(()).unwrap();
                    }
                    LONG
                })
            });
            told.recv().unwrap();
            std::thread::sleep(SETTLE);
            stop.stop();
        });
        assert_eq!(passes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_hook_wakes_a_condvar_wait_and_a_late_hook_runs_at_once() {
        let stop = Stop::default();
        // Whether the waiter waits: set under the mutex it waits on.
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let hook = pair.clone();
        stop.on_stop(move || {
            let _held = hook.0.lock().unwrap();
            hook.1.notify_all();
        });
        let waiter = {
            let (stop, pair) = (stop.clone(), pair.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut waiting = pair.0.lock().unwrap();
                while !stop.is_stopped() && started.elapsed() < LONG {
                    *waiting = true;
                    waiting = pair.1.wait_timeout(waiting, LONG).unwrap().0;
                }
                started.elapsed()
            })
        };
        // The flag is seen under the mutex, which the waiter gives up only inside its wait.
        while !*pair.0.lock().unwrap() {
            std::thread::yield_now();
        }
        stop.stop();
        let took = waiter.join().unwrap();
        assert!(took < GENEROUS, "the wait ended after {took:?}");

        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        stop.on_stop(move || flag.store(true, Ordering::SeqCst));
        assert!(ran.load(Ordering::SeqCst));
    }
}
