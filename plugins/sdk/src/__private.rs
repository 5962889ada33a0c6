//! Used by the code the `export_*!` macros expand to; not a public API.
//!
//! The drivers hold the plugin instance between calls and translate between
//! the WIT functions and the SDK traits. They are plain Rust, so they are
//! unit-tested natively.
//!
//! The `*Glue` traits are what the generated exports call. A test plugin that
//! must break the contract in ways the SDK prevents (a malformed batch) can
//! implement one itself and export it with `export_source!(@glue MyGlue)`.

pub use wit_bindgen;

use crate::{BatchWriter, Config, DeliveryReport, Partitioner, Poll, Records, Source, Transform};

const NOT_INITIALISED: &str = "streamplug-sdk: called before a successful `init`";

/// A `poll-result` without the generated type.
#[derive(Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// A batch and the source's checkpoint after it.
    Records(Vec<u8>, Option<Vec<u8>>),
    Idle(u32),
    Finished,
}

/// What a source's exports call.
pub trait SourceGlue: 'static {
    /// The state before `init`.
    const NEW: Self;
    fn init(
        &mut self,
        config: Vec<(String, String)>,
        resume_from: Option<Vec<u8>>,
    ) -> Result<(), String>;
    /// At most `max_records` records, and within `max_bytes` (the batch
    /// without its last record below it).
    fn poll(&mut self, max_records: u32, max_bytes: u64) -> Result<PollOutcome, String>;
    /// Delivery feedback; ignored by default.
    fn on_delivery(&mut self, committed: Option<Vec<u8>>, failed: Vec<(String, u64)>) {
        let _ = (committed, failed);
    }
}

/// What a transform's exports call.
pub trait TransformGlue: 'static {
    const NEW: Self;
    fn init(&mut self, config: Vec<(String, String)>) -> Result<(), String>;
    fn process(&mut self, batch: &[u8]) -> Result<Vec<u8>, String>;
}

/// What a partitioner's exports call.
pub trait PartitionerGlue: 'static {
    const NEW: Self;
    fn init(&mut self, config: Vec<(String, String)>) -> Result<(), String>;
    fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        batch: &[u8],
    ) -> Result<Vec<u32>, String>;
}

/// A new writer sized like the last batch, so a steady stream of batches
/// encodes into one exact allocation each (the host frees the returned list).
fn writer(capacity_hint: usize) -> BatchWriter {
    BatchWriter::with_capacity(capacity_hint)
}

pub struct SourceDriver<S> {
    instance: Option<S>,
    finished: bool,
    capacity_hint: usize,
}

impl<S> Default for SourceDriver<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> SourceDriver<S> {
    pub const fn new() -> Self {
        Self {
            instance: None,
            finished: false,
            capacity_hint: 0,
        }
    }
}

impl<S: Source> SourceGlue for SourceDriver<S> {
    const NEW: Self = Self::new();

    fn init(
        &mut self,
        config: Vec<(String, String)>,
        resume_from: Option<Vec<u8>>,
    ) -> Result<(), String> {
        self.instance = None;
        self.finished = false;
        let mut instance = S::init(Config::new(config))?;
        if let Some(checkpoint) = resume_from {
            instance
                .resume(&checkpoint)
                .map_err(|e| format!("cannot resume from the checkpoint: {e}"))?;
        }
        self.instance = Some(instance);
        Ok(())
    }

    fn poll(&mut self, max_records: u32, max_bytes: u64) -> Result<PollOutcome, String> {
        let instance = self.instance.as_mut().ok_or(NOT_INITIALISED)?;
        if self.finished {
            return Ok(PollOutcome::Finished);
        }
        let capacity = self
            .capacity_hint
            .min(usize::try_from(max_bytes).unwrap_or(usize::MAX));
        let mut out = BatchWriter::with_budget(capacity, max_records, max_bytes);
        let poll = instance.poll(max_records, &mut out)?;
        self.finished = poll == Poll::Finished;
        if out.is_empty() {
            return Ok(match poll {
                Poll::Ready => PollOutcome::Idle(0),
                Poll::Idle(ms) => PollOutcome::Idle(ms),
                Poll::Finished => PollOutcome::Finished,
            });
        }
        if out.len() > max_records {
            return Err(format!(
                "poll wrote {} records, more than the {max_records} asked for",
                out.len()
            ));
        }
        if !out.within_budget() {
            return Err(format!(
                "poll wrote {} bytes in {} records, over the budget of {max_bytes} bytes by more than one record: stop writing once `out.is_full()`",
                out.encoded_len(),
                out.len()
            ));
        }
        self.capacity_hint = out.encoded_len();
        Ok(PollOutcome::Records(out.finish(), instance.checkpoint()))
    }

    fn on_delivery(&mut self, committed: Option<Vec<u8>>, failed: Vec<(String, u64)>) {
        if let Some(instance) = self.instance.as_mut() {
            instance.delivered(&DeliveryReport { committed, failed });
        }
    }
}

pub struct TransformDriver<T> {
    instance: Option<T>,
    capacity_hint: usize,
}

impl<T> Default for TransformDriver<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TransformDriver<T> {
    pub const fn new() -> Self {
        Self {
            instance: None,
            capacity_hint: 0,
        }
    }
}

impl<T: Transform> TransformGlue for TransformDriver<T> {
    const NEW: Self = Self::new();

    fn init(&mut self, config: Vec<(String, String)>) -> Result<(), String> {
        self.instance = None;
        self.instance = Some(T::init(Config::new(config))?);
        Ok(())
    }

    fn process(&mut self, batch: &[u8]) -> Result<Vec<u8>, String> {
        let instance = self.instance.as_mut().ok_or(NOT_INITIALISED)?;
        // Most transforms write about what they read: room for that at
        // once, so a large batch is not copied while its buffer doubles.
        let mut out = writer(self.capacity_hint.max(batch.len()));
        instance.process(Records::new(batch), &mut out)?;
        self.capacity_hint = out.encoded_len();
        Ok(out.finish())
    }
}

pub struct PartitionerDriver<P> {
    instance: Option<P>,
}

impl<P> Default for PartitionerDriver<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> PartitionerDriver<P> {
    pub const fn new() -> Self {
        Self { instance: None }
    }
}

impl<P: Partitioner> PartitionerGlue for PartitionerDriver<P> {
    const NEW: Self = Self::new();

    fn init(&mut self, config: Vec<(String, String)>) -> Result<(), String> {
        self.instance = None;
        self.instance = Some(P::init(Config::new(config))?);
        Ok(())
    }

    fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        batch: &[u8],
    ) -> Result<Vec<u32>, String> {
        let instance = self.instance.as_mut().ok_or(NOT_INITIALISED)?;
        let records = Records::new(batch);
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(instance.partition(topic, partition_count, &record)?);
        }
        Ok(out)
    }
}
