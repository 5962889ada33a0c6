//! One source's pipeline while it runs: its thread, and what the supervisor
//! reaches into it for (stop, swaps, quota, in-flight records).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::pipeline::quota::QuotaSlot;
use crate::pipeline::{Stop, SwapQueue};
use crate::producer::RecordSink;

pub struct PipelineHandle {
    pub(super) thread: JoinHandle<Option<Vec<u8>>>,
    pub(super) stop: Arc<Stop>,
    pub swaps: Arc<SwapQueue>,
    pub(super) sink: Arc<RecordSink>,
    pub quota: Arc<QuotaSlot>,
    /// The names of its plugins: source, transforms, partitioner.
    pub(super) plugins: Vec<String>,
}

impl PipelineHandle {
    /// Whether plugin `name` is one of this pipeline's.
    pub fn runs(&self, name: &str) -> bool {
        self.plugins.iter().any(|p| p == name)
    }

    /// The source finished, or its pipeline stopped for good.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Records and bytes handed to the producer and not yet reported.
    pub fn in_flight(&self) -> (u64, u64) {
        (self.sink.in_flight.records(), self.sink.in_flight.bytes())
    }

    /// Asks the pipeline to stop after its current batch.
    pub fn raise_stop(&self) {
        self.stop.raise();
    }

    /// Stops the pipeline after its current batch, waits until every record
    /// it handed over has a delivery report (up to `deadline`), and returns
    /// the source's last checkpoint.
    pub fn drain(self, deadline: Instant) -> Option<Vec<u8>> {
        self.stop.raise();
        let checkpoint = self.thread.join().unwrap_or_else(|_| {
            tracing::error!("a pipeline thread panicked");
            None
        });
        while self.sink.in_flight.records() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        checkpoint
    }

    /// Waits for the pipeline thread (after a stop was raised, or the
    /// source finished).
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("a pipeline thread panicked");
        }
    }
}
