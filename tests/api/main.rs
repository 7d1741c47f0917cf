//! One integration-test binary: the real server on a random port, spoken to over HTTP.

mod helpers;

mod auth;
mod crash;
mod idempotency;
mod receiver;
mod records;
mod webhooks;
