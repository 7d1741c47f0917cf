//! Operations: health and readiness, metrics, the request log, backups and the API's own
//! documentation page.

pub mod backup;
pub mod docs;
pub mod health;
pub mod metrics;
pub mod request_log;
