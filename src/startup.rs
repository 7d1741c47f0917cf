//! `Application::build`: open the store, migrate, start background workers, bind. The one
//! place where things are wired together.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};

use crate::activity::recorder::run_flusher;
use crate::activity::{Recorder, RecorderStats, maintenance};
use crate::api::idempotency::InFlightKeys;
use crate::auth::{AuthSettings, AuthState};
use crate::background::Stop;
use crate::config::Settings;
use crate::error::ApiError;
use crate::store::{SNAPSHOT_MAX_AGE, Store, StoreError, checkpoint, filing, generation};
use crate::webhooks::Notifier;
use crate::{admin, api, ops, webhooks};

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How often the server looks for changes made by other processes (the CLI).
const GENERATION_POLL: Duration = Duration::from_millis(100);

/// A built, bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
    store: Store,
    background: Background,
    /// Held while serving: `restore` refuses to run under a live server.
    _lock: ops::backup::ServerLock,
    setup_url: Option<String>,
    recorder_stats: Arc<RecorderStats>,
    /// Listened for since before the first connection; `run_until_stopped` acts on them.
    signals: StopSignals,
}

/// Named background threads with a shared stop signal, joined at shutdown.
struct Background {
    stop: Stop,
    threads: Vec<JoinHandle<()>>,
    liveness: ops::health::Liveness,
}

impl Background {
    fn spawn(
        &mut self,
        name: &str,
        f: impl FnOnce(Stop) + Send + 'static,
    ) -> Result<(), StartError> {
        let stop = self.stop.clone();
        let liveness = self.liveness.clone();
        let owned = name.to_owned();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // `/readyz` reports the thread once this guard drops, by return or by panic.
                let _alive = liveness.register(&owned);
                f(stop)
            })
            .map_err(|source| StartError::Thread {
                name: name.to_owned(),
                source,
            })?;
        self.threads.push(handle);
        Ok(())
    }

    fn stop(self) {
        self.stop.stop();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A background thread could not be started.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        /// The thread's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database {path}: {source}")]
    Store {
        /// The file.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// Another server holds the database.
    #[error("{0}")]
    Locked(ops::backup::OpsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Application {
    /// Opens and migrates the database, starts the background work and binds the listener.
    /// Must be called inside an actix system.
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        // Taken before the store opens, so a restore cannot swap the file under us; reported
        // after, so a file that cannot be opened at all gets SQLite's own message.
        let lock = ops::backup::ServerLock::acquire(&settings.db);
        let store = Store::open(
            &settings.db,
            settings.workers as u32 + 2,
            settings.max_db_pages(),
        )
        .map_err(|source| StartError::Store {
            path: settings.db.display().to_string(),
            source,
        })?;
        let lock = lock.map_err(StartError::Locked)?;
        let listener = TcpListener::bind(&settings.listen).map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let auth = web::Data::new(AuthState::new(
            store.clone(),
            AuthSettings {
                default_limits: settings.default_limit.clone(),
                trusted_proxies: settings.trusted_proxy.clone(),
                rate_limit_exempt: settings.rate_limit_exempt.clone(),
                failed_auth_limit: settings.failed_auth_limit,
            },
        ));
        let mut background = Background {
            stop: Stop::default(),
            threads: Vec::new(),
            liveness: ops::health::Liveness::default(),
        };
        let metrics = web::Data::new(ops::metrics::Metrics::default());
        let liveness = web::Data::new(background.liveness.clone());
        let poll_store = store.clone();
        let poll_auth = auth.clone();
        background.spawn("change-poller", move |stop| {
            poll_generation(&poll_store, &poll_auth, &stop)
        })?;

        if let Some(schedule) = settings.backup.clone() {
            let (backup_store, backup_metrics) = (store.clone(), metrics.clone());
            background.spawn("backup-scheduler", move |stop| {
                ops::backup::run_schedule(&backup_store, &schedule, &backup_metrics, &stop)
            })?;
        }
        let admin_state = web::Data::new(admin::AdminState::new(admin::AdminSettings {
            secure_cookies: settings.secure_cookies,
        }));
        let setup_url =
            admin::setup::announce(&store, &settings.listen, port).map_err(|source| {
                StartError::Store {
                    path: settings.db.display().to_string(),
                    source,
                }
            })?;
        let (recorder, records) = Recorder::new();
        let recorder_stats = recorder.stats();
        let (flush_store, flush_stats) = (store.clone(), recorder.stats());
        background.spawn("call-recorder", move |stop| {
            run_flusher(&flush_store, &records, &flush_stats, &stop)
        })?;
        let (upkeep_store, upkeep_auth) = (store.clone(), auth.clone());
        let (retention, every) = (settings.audit_retention, settings.maintenance_every);
        background.spawn("maintenance", move |stop| {
            maintenance::run(&upkeep_store, &upkeep_auth, retention, every, &stop)
        })?;

        let filing_store = store.clone();
        background.spawn("owner-filing", move |stop| {
            let tables = crate::resources::RESOURCES.map(|r| &*r.table);
            filing::run(&filing_store, &tables, &stop)
        })?;
        let (checkpoint_path, checkpoint_store) = (settings.db.clone(), store.clone());
        background.spawn("wal-checkpointer", move |stop| {
            run_checkpointer(&checkpoint_path, checkpoint_store.writer(), &stop)
        })?;
        let notifier = Arc::new(Notifier::default());
        // Whoever queues events (an API write, the admin page, the recorder, the upkeep),
        // the worker is woken as soon as they commit.
        let wake = notifier.clone();
        store.writer().on_events_committed(move || wake.notify());
        let attempts = Arc::new(webhooks::pool::Attempts::default());
        let (worker_store, worker_settings, worker_notifier, worker_attempts) = (
            store.clone(),
            settings.webhooks.clone(),
            notifier.clone(),
            attempts.clone(),
        );
        background.spawn("webhook-worker", move |stop| {
            webhooks::worker::run(
                worker_store,
                worker_settings,
                worker_notifier,
                worker_attempts,
                &stop,
            )
        })?;
        let (prune_store, prune_settings) = (store.clone(), settings.webhooks.clone());
        background.spawn("webhook-prune", move |stop| {
            webhooks::prune::run(&prune_store, &prune_settings, &stop)
        })?;
        let attempts = web::Data::from(attempts);
        let idempotency_keys = web::Data::new(InFlightKeys::default());

        let store_data = web::Data::new(store.clone());
        let recorder = web::Data::new(recorder);
        let signals = listen_for_stop_signals();
        let server = HttpServer::new(move || {
            // Called on each worker's own thread, where its read connections live.
            release_snapshots_on_this_worker();
            App::new()
                .app_data(store_data.clone())
                .app_data(auth.clone())
                .app_data(metrics.clone())
                .app_data(liveness.clone())
                .wrap(actix_web::middleware::from_fn(
                    ops::request_log::log_request,
                ))
                .app_data(admin_state.clone())
                .app_data(recorder.clone())
                .app_data(attempts.clone())
                .app_data(idempotency_keys.clone())
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::Validation(vec![crate::resources::FieldError::new(
                        "(query)",
                        e.to_string(),
                    )])
                    .into()
                }))
                .configure(ops::health::configure)
                .configure(ops::metrics::configure)
                .configure(ops::docs::configure)
                .configure(api::configure)
                .configure(admin::configure)
                .default_service(web::to(api::not_found))
        })
        .workers(settings.workers)
        .shutdown_timeout(10)
        // `stop_on_signal` listens instead.
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?
        .run();
        tracing::info!(addr = %settings.listen, port, db = %settings.db.display(), "switchboard listening");
        Ok(Application {
            server,
            port,
            store,
            background,
            _lock: lock,
            setup_url,
            recorder_stats,
            signals,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first-run setup address, when the database had no admin at start.
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    /// Counters of the call recorder (audit, usage, last-used batching).
    pub fn recorder_stats(&self) -> Arc<RecorderStats> {
        self.recorder_stats.clone()
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (a signal, see `stop_on_signal`, or a handle), then stops the
    /// background threads (the call log's last flush) and the writer.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        actix_web::rt::spawn(stop_on_signal(self.server.handle(), self.signals));
        let result = self.server.await;
        self.background.stop();
        self.store.shutdown();
        tracing::info!("switchboard stopped");
        result
    }
}

/// Stops the server on the first signal that asks: gracefully on SIGTERM and SIGINT (the
/// requests in flight are answered, for up to the shutdown timeout, and the call log is
/// flushed), at once on SIGQUIT. actix-server's own handler stopped on SIGINT at once, and
/// waited 300 ms more after any stop before it let the server's future end, with the workers
/// already stopped: every restart spent them with the port closed.
async fn stop_on_signal(handle: ServerHandle, mut signals: StopSignals) {
    let Some((name, graceful)) = stop_signal(&mut signals).await else {
        return;
    };
    tracing::info!(signal = name, graceful, "stopping");
    handle.stop(graceful).await;
}

/// The signals that stop the server, each with its name and whether the stop is graceful.
#[cfg(unix)]
type StopSignals = Vec<(actix_web::rt::signal::unix::Signal, &'static str, bool)>;
#[cfg(not(unix))]
type StopSignals = ();

/// Listens for the signals that stop the server: from before it accepts its first
/// connection, so that none of them ends the process with its default action.
#[cfg(unix)]
fn listen_for_stop_signals() -> StopSignals {
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
fn listen_for_stop_signals() -> StopSignals {}

/// Ctrl-C, elsewhere.
#[cfg(not(unix))]
async fn stop_signal(_: &mut StopSignals) -> Option<(&'static str, bool)> {
    actix_web::rt::signal::ctrl_c().await.ok()?;
    Some(("ctrl-c", true))
}

/// Starts, once per worker thread, the timer that ends read snapshots the worker no longer
/// uses (see `store::inline`). It runs only while the worker holds one: an idle server's
/// workers are not woken for it.
fn release_snapshots_on_this_worker() {
    thread_local! {
        static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if STARTED.replace(true) {
        return;
    }
    actix_web::rt::spawn(async {
        let taken = Store::snapshot_taken();
        loop {
            if !Store::release_idle_snapshots() {
                taken.notified().await;
            }
            actix_web::rt::time::sleep(SNAPSHOT_MAX_AGE).await;
        }
    });
}

/// Drops cached auth state whenever another process bumps the change generation.
fn poll_generation(store: &Store, auth: &AuthState, stop: &Stop) {
    let mut seen = store.read(generation::current).ok();
    stop.repeat(|| {
        match store.read(generation::current) {
            Ok(now) if Some(now) != seen => {
                auth.invalidate_all();
                seen = Some(now);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the change generation"),
        }
        GENERATION_POLL
    });
}

/// Copies the WAL back into the database in the background (see `store::checkpoint`).
fn run_checkpointer(path: &std::path::Path, writer: &crate::store::Writer, stop: &Stop) {
    let checkpointer = match checkpoint::open_checkpointer(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the WAL checkpointer could not open the database");
            return;
        }
    };
    let mut wait = CHECKPOINT_EVERY;
    while !stop.wait(wait) {
        wait = match checkpointer.pass(checkpoint::RESTART_ABOVE_PAGES, writer) {
            Ok(c) => {
                if c.restart_asked {
                    // With the pass's length, bench/tools/tail.py finds the calls it slowed.
                    let pass_ms = c.took.as_secs_f64() * 1000.0;
                    tracing::debug!(wal_pages = c.wal_pages, pass_ms, "WAL to be started over");
                }
                checkpoint::next_wait(&c, CHECKPOINT_EVERY)
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                CHECKPOINT_EVERY
            }
        };
    }
}
