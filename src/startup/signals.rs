//! The signals that stop the server: listened for from before the first connection, and
//! acted on while it serves.

use actix_web::dev::ServerHandle;

/// Stops the server on the first signal that asks: gracefully on SIGTERM and SIGINT (the
/// requests in flight are answered, for up to the shutdown timeout, and the call log is
/// flushed), at once on SIGQUIT. actix-server's own handler stopped on SIGINT at once, and
/// waited 300 ms more after any stop before it let the server's future end, with the workers
/// already stopped: every restart spent them with the port closed.
pub(super) async fn stop_on_signal(handle: ServerHandle, mut signals: StopSignals) {
    let Some((name, graceful)) = stop_signal(&mut signals).await else {
        return;
    };
    tracing::info!(signal = name, graceful, "stopping");
    handle.stop(graceful).await;
}

/// The signals that stop the server, each with its name and whether the stop is graceful.
#[cfg(unix)]
pub(super) type StopSignals = Vec<(actix_web::rt::signal::unix::Signal, &'static str, bool)>;
#[cfg(not(unix))]
pub(super) type StopSignals = ();

/// Listens for the signals that stop the server: from before it accepts its first
/// connection, so that none of them ends the process with its default action.
#[cfg(unix)]
pub(super) fn listen_for_stop_signals() -> StopSignals {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut listening = Vec::new();
    for (kind, name, graceful) in [
        (SignalKind::terminate(), "SIGTERM", true),
        (SignalKind::interrupt(), "SIGINT", true),
        (SignalKind::quit(), "SIGQUIT", false),
    ] {
        match signal(kind) {
            Ok(stream) => listening.push((stream, name, graceful)),
            Err(e) => tracing::warn!(error = %e, signal = name, "cannot listen for a signal"),
        }
    }
    listening
}

/// The first of them to come; None when the process listens for none.
#[cfg(unix)]
async fn stop_signal(signals: &mut StopSignals) -> Option<(&'static str, bool)> {
    if signals.is_empty() {
        return None;
    }
    let waits = signals.iter_mut().map(|(s, _, _)| Box::pin(s.recv()));
    let (_, first, _) = futures_util::future::select_all(waits).await;
    let (_, name, graceful) = signals[first];
    Some((name, graceful))
}

#[cfg(not(unix))]
pub(super) fn listen_for_stop_signals() -> StopSignals {}

/// Ctrl-C, elsewhere.
#[cfg(not(unix))]
async fn stop_signal(_: &mut StopSignals) -> Option<(&'static str, bool)> {
    actix_web::rt::signal::ctrl_c().await.ok()?;
    Some(("ctrl-c", true))
}
