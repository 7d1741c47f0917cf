//! Webhooks: events queued in the same transaction as the change they report (the outbox),
//! and their delivery: a worker thread, a pool of senders shared among the endpoints,
//! signing, retries, the outbound address policy, and the outbox's upkeep.

pub mod address_policy;
mod allocation;
pub mod events;
mod outcome;
pub mod pool;
pub mod priority;
pub mod prune;
pub mod retry;
pub mod sender;
pub mod signer;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

pub use address_policy::{AddressPolicy, HostResolver};
pub use worker::Notifier;

/// What can go wrong preparing a delivery.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A stored secret is not `whsec_<base64>`.
    #[error("the endpoint's signing secret is not whsec_<base64>")]
    BadSecret,
}

/// How deliveries are made.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Connect timeout, and the whole attempt's timeout.
    pub timeout: Duration,
    /// Delays before each retry; after the last, a delivery is `dead`.
    pub retry_schedule: Vec<Duration>,
    /// Refuse loopback and private networks too (link-local and metadata always are).
    pub deny_private: bool,
    /// Sender threads at the server's priority; a quarter as many more, at the lowest, take
    /// the attempts claimed while API writes crowd the writer (see `pool`).
    pub senders: usize,
    /// Attempts in flight at once to one endpoint whose last attempt got a 2xx (the yielding
    /// senders take one at a time); a failing, new or hanging one gets one at a time (see
    /// `allocation`).
    pub per_endpoint: usize,
    /// Delivered, dead and long-paused deliveries are pruned after this.
    pub retention: Duration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
    /// How often the worker looks for work nobody told it about (retries fall due, a CLI
    /// process queued something).
    pub scan_interval: Duration,
    /// How often old deliveries and idempotency keys are pruned.
    pub prune_interval: Duration,
    /// Name resolution for deliveries; `None` is the system's. Tests inject their own.
    pub resolver: Option<Arc<dyn HostResolver>>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("timeout", &self.timeout)
            .field("retry_schedule", &self.retry_schedule)
            .field("deny_private", &self.deny_private)
            .field("senders", &self.senders)
            .field("per_endpoint", &self.per_endpoint)
            .field("retention", &self.retention)
            .field("disable_after", &self.disable_after)
            .field("scan_interval", &self.scan_interval)
            .field("prune_interval", &self.prune_interval)
            .field("custom_resolver", &self.resolver.is_some())
            .finish()
    }
}

/// The default retry schedule: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub fn default_retry_schedule() -> Vec<Duration> {
    [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            timeout: Duration::from_secs(10),
            retry_schedule: default_retry_schedule(),
            deny_private: false,
            senders: 16,
            per_endpoint: 4,
            retention: Duration::from_secs(30 * 86_400),
            disable_after: Duration::from_secs(5 * 86_400),
            scan_interval: Duration::from_secs(1),
            prune_interval: Duration::from_secs(600),
            resolver: None,
        }
    }
}
