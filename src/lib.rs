//! Switchboard: a self-hosted developer API for small businesses.
//!
//! Data flows one way: `api` -> `auth` -> `resources` -> `store`; `cli` -> `manage` -> `store`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activity;
pub mod admin;
pub mod api;
pub mod auth;
pub mod background;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod json_string;
pub mod manage;
pub mod model;
pub mod notice;
pub mod ops;
pub mod resources;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;
