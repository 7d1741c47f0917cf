//! A sender thread's loop: it takes a job from its lane, makes the attempt, records its
//! outcome (or leaves it to the worker) and gives the attempt's slot back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Outcome;
use super::jobs::Jobs;
use crate::model::EndpointId;
use crate::store::Store;
use crate::store::deliveries::Claimed;
use crate::webhooks::WebhookSettings;
use crate::webhooks::allocation::Allocation;
use crate::webhooks::outcome;
use crate::webhooks::sender::{Sender, Sent};
use crate::webhooks::worker::Notifier;

/// What a sender thread works with.
pub(super) struct SenderCtx<'a> {
    pub(super) store: &'a Store,
    pub(super) settings: &'a Arc<WebhookSettings>,
    pub(super) notifier: &'a Notifier,
    pub(super) jobs: &'a Jobs,
    pub(super) allocation: &'a Allocation,
    pub(super) sender: &'a Sender,
    /// Its lane's count of attempts.
    pub(super) made: &'a AtomicU64,
    /// Where its outcomes go for the worker to record (the yielding lane's), if not straight
    /// to the writer.
    pub(super) relay: Option<&'a Mutex<Vec<Outcome>>>,
}

impl SenderCtx<'_> {
    pub(super) fn send_loop(&self) {
        while let Some(c) = self.jobs.take() {
            // Given back however the attempt ends.
            let _slot = Slot {
                ctx: self,
                endpoint: c.endpoint_id,
                delivery: c.id,
            };
            let id = c.id;
            // A panic ends the attempt, not the thread: a lane that lost its threads would
            // keep the jobs handed to it for ever. The delivery stays leased, and is sent
            // again when the lease runs out.
            if catch_unwind(AssertUnwindSafe(|| self.attempt(c))).is_err() {
                tracing::error!(delivery = id, "a webhook attempt panicked");
            }
        }
    }

    fn attempt(&self, c: Claimed) {
        self.allocation.begun(c.endpoint_id, c.id);
        let sent = self.sender.send(&c);
        self.made.fetch_add(1, Ordering::Relaxed);
        self.allocation.judge(c.endpoint_id, sent.succeeded());
        tracing::debug!(delivery = c.id, endpoint = %c.endpoint_id, status = ?sent.attempt.status,
            latency_ms = sent.attempt.latency_ms, "webhook attempt");
        // The outcome is queued, not waited for: the worker's next claim, queued after it,
        // runs after it in the same transaction or a later one and so sees it, and the
        // sender's slot is free a commit sooner. Until the outcome commits the delivery stays
        // leased; a failure leaves it to be sent again when the lease runs out (or at the
        // next start).
        match self.relay {
            Some(relay) => relay
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((c, sent)),
            None => record(self.store, self.settings, c, sent),
        }
    }
}

/// Queues the writes that record an attempt's outcome, without waiting for their commit.
pub(super) fn record(store: &Store, settings: &Arc<WebhookSettings>, c: Claimed, sent: Sent) {
    let (s, id) = (settings.clone(), c.id);
    let queued = store.writer().submit(move |conn| {
        let result = outcome::record(conn, &c, &sent, &s);
        if let Err(e) = &result {
            tracing::error!(delivery = id, error = %e, "could not record a webhook attempt");
        }
        result
    });
    if let Err(e) = queued {
        tracing::error!(delivery = id, error = %e, "could not record a webhook attempt");
    }
}

/// An attempt's place at its endpoint and in its lane, given back when the attempt ends;
/// then the worker is told that a sender is free.
struct Slot<'a, 'c> {
    ctx: &'a SenderCtx<'c>,
    endpoint: EndpointId,
    delivery: i64,
}

impl Drop for Slot<'_, '_> {
    fn drop(&mut self) {
        self.ctx.allocation.done(self.endpoint, self.delivery);
        self.ctx.jobs.done();
        self.ctx.notifier.notify();
    }
}
