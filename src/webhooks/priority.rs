//! The scheduling priority of the threads that send webhook attempts while the writer is
//! crowded (see `pool`): the lowest a thread can ask for (nice 19), so that while requests
//! keep the processor busy those attempts take what time the request path leaves. With a
//! core to spare they run as soon as they are woken: niceness only orders threads that want
//! the same core.
//!
//! Only these senders, and never for good: the other senders, which take every attempt
//! while the writer is not crowded, keep the server's priority. A thread at nice 19 is
//! preempted by every wake-up of the writer and the worker, and draining a backlog that way
//! cost 20% more processor time per delivery (BENCHMARKS.md). Nor does the worker lower
//! itself: it reads the database, and a snapshot held by a thread waiting for the processor
//! would hold off the WAL's restart.

/// The nice value of the senders that yield: the lowest priority a thread can ask for.
pub const NICE: i32 = 19;

/// Lowers the calling thread's priority to [`NICE`]; false when it could not. Linux keeps a
/// nice value per thread, and `setpriority` with the thread's own id changes that thread
/// only. Elsewhere (macOS, BSD) the call would lower the whole process, so it is not made.
pub fn lower_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        match rustix::process::setpriority_process(Some(tid), NICE) {
            Ok(()) => true,
            Err(e) => {
                // A seccomp filter without `setpriority` (the packaged unit allows it).
                tracing::info!(error = %e, "a yielding webhook sender keeps the server's priority");
                false
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn this_thread_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    /// The call lowers its own thread only: the thread that spawned it keeps its priority.
    #[test]
    fn a_yielding_sender_lowers_its_own_priority_and_no_other_threads() {
        let before = this_thread_nice();
        let (lowered, inside) = std::thread::spawn(|| (lower_this_thread(), this_thread_nice()))
            .join()
            .unwrap();
        assert!(lowered);
        assert_eq!(inside, NICE);
        assert_eq!(this_thread_nice(), before);
    }
}
