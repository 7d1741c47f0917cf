//! What happens around calls, off the hot path: the recorder takes one record per `/api/v1`
//! call through a bounded channel and writes audit rows, usage counters and last-used stamps
//! in batches; the maintenance thread prunes, revokes unused tokens and warns before expiry.

pub mod maintenance;
pub mod recorder;

pub use recorder::{CallRecord, Recorder, RecorderStats};
