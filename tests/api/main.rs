//! One integration-test binary: the real server on a random port, spoken to over HTTP.

mod helpers;

mod admin;
mod admin_manage;
mod auth;
mod records;
