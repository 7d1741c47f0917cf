//! Webhook delivery yields the processor to the API. The sender threads run at the lowest
//! scheduling priority (nice 19), so that while requests keep every core busy (an import
//! script's burst) the senders get a small share of it, and catch up once the burst is over.
//! With a core to spare they run as soon as they are woken, as before: niceness only orders
//! threads that want the same core. The outbox makes the wait safe: a delivery is durable from
//! its change's commit, whenever it goes out.
//!
//! Only the senders: they make HTTP calls and hand their outcomes to the writer's queue. The
//! worker that claims their deliveries keeps the server's priority, because it reads the
//! database, and a snapshot held by a thread waiting for the processor would hold off the
//! WAL's restart. So do the threads a request waits on (HTTP workers, the writer, the
//! checkpointer), and the deliveries' own writes, which the writer runs. The locks the senders
//! share with those threads (the allocator's arenas, the writer's queue) are held for a few
//! instructions, and a waiter sleeps on them, which hands the core to the holder.

/// The nice value of the sender threads: the lowest priority a thread can ask for.
pub const NICE: i32 = 19;

/// Lowers the calling thread's priority to [`NICE`]. Linux keeps a nice value per thread, and
/// `setpriority` with the thread's own id changes that thread only. Elsewhere (macOS, BSD) the
/// call would lower the whole process, so it does nothing there.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), NICE) {
            // A seccomp filter without `setpriority` (the packaged unit allows it). Delivery
            // works as before, at the server's priority.
            tracing::info!(error = %e, "a webhook sender keeps the server's priority");
        }
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
    fn a_sender_lowers_its_own_priority_and_no_other_threads() {
        let before = this_thread_nice();
        let inside = std::thread::spawn(|| {
            lower_this_thread();
            this_thread_nice()
        })
        .join()
        .unwrap();
        assert_eq!(inside, NICE);
        assert_eq!(this_thread_nice(), before);
    }
}
