//! `Application::build`: open the store, migrate, start background workers, bind. The one
//! place where things are wired together.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};

use crate::activity::recorder::run_flusher;
use crate::activity::{Recorder, RecorderStats, maintenance};
use crate::api::idempotency::InFlightKeys;
use crate::auth::{AuthSettings, AuthState};
use crate::background::Stop;
use crate::config::Settings;
use crate::error::ApiError;
use crate::store::{SNAPSHOT_MAX_AGE, Store, StoreError, filing};
use crate::webhooks::Notifier;
use crate::{admin, api, ops, webhooks};

mod signals;
mod threads;

use signals::{StopSignals, listen_for_stop_signals, stop_on_signal};
use threads::{poll_generation, run_checkpointer};

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
