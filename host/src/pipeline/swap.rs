//! Where new plugin versions wait for a pipeline's next batch boundary.
//!
//! The reloader compiles and checks a new version off the hot path, then
//! queues it here; the pipeline thread looks at one atomic flag per batch
//! and, when it is set, hands each new version to its stage (see
//! `Stage::swap`), between two batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::stage::PluginSpec;
use crate::plugin::Interrupt;

/// A new version (file or settings) for the stage running plugin `spec.name`.
pub struct SwapRequest {
    pub spec: PluginSpec,
    /// When the change was seen, for the swap latency.
    pub requested: Instant,
}

#[derive(Default)]
pub struct SwapQueue {
    pending: AtomicBool,
    requests: Mutex<Vec<SwapRequest>>,
    /// Lets go of a plugin blocked in a WASI wait, so that the batch
    /// boundary the swap waits for comes.
    interrupt: Option<Arc<Interrupt>>,
}

impl SwapQueue {
    /// A queue whose pushes let go of the pipeline's blocked plugins.
    pub fn interrupting(interrupt: Arc<Interrupt>) -> Self {
        Self {
            interrupt: Some(interrupt),
            ..Self::default()
        }
    }

    pub fn push(&self, request: SwapRequest) {
        let mut q = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Only the newest version of a plugin matters.
        q.retain(|r| r.spec.name != request.spec.name);
        q.push(request);
        self.pending.store(true, Ordering::Release);
        if let Some(i) = &self.interrupt {
            i.swap_waiting();
        }
    }

    /// The requests queued since the last call; cheap when there are none.
    pub fn take(&self) -> Vec<SwapRequest> {
        if !self.pending.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
