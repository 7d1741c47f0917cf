//! One integration-test binary: the real server on a random port, spoken to over HTTP.

mod helpers;

mod admin;
mod admin_manage;
mod allow_lists;
mod auth;
mod cli;
mod crash;
mod faults;
mod idempotency;
mod lifecycle;
mod limits;
mod ops;
mod owasp;
mod properties;
mod receiver;
mod records;
mod webhooks;
