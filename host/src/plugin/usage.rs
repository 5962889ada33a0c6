//! What a plugin's instances use, summed over all of them: time inside
//! their calls, and linear memory now. Every instance of one plugin (one
//! per pipeline that runs it, and each restart's) adds to the same `Usage`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Usage {
    call_nanos: AtomicU64,
    memory_bytes: AtomicU64,
}

impl Usage {
    /// A call took `spent`, wall time: a plugin computes rather than
    /// blocks (its waits are bounded by `call_timeout_ms`), so this stands
    /// for its CPU time, WASI waits included.
    pub fn called(&self, spent: Duration) {
        self.call_nanos.fetch_add(spent.as_nanos() as u64, Relaxed);
    }

    /// An instance's linear memory grew by `bytes` (or was created).
    pub fn grew(&self, bytes: usize) {
        self.memory_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// An instance holding `bytes` of linear memory was dropped.
    pub fn released(&self, bytes: usize) {
        self.memory_bytes.fetch_sub(bytes as u64, Relaxed);
    }

    pub fn call_seconds(&self) -> f64 {
        self.call_nanos.load(Relaxed) as f64 / 1e9
    }

    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes.load(Relaxed)
    }
}
