//! Webhooks: events queued in the same transaction as the change they report (the outbox),
//! and their delivery.

pub mod events;
