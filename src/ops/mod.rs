//! Operations: health and readiness (metrics and backup join them).

pub mod health;
