//! Where one source's records end: what becomes of each counts in its
//! stats, its in-flight caps and checkpoints, and a record that cannot reach
//! its topic goes to the tenant's dead-letter topic (queued here; produced by
//! `dead_letter`'s thread).
//!
//! The dead-letter target holds the sink of the dead letters themselves, so
//! the two types live together: neither is complete without the other.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use streamplug_codec::BatchWriter;

use super::admission::Admission;
use super::inflight::InFlight;
use super::transaction_outcome::TxnOutcome;
use crate::checkpoint::CheckpointTracker;
use crate::stats::{FailureKind, PluginStats};

/// Where delivery reports of one source's records go.
pub struct RecordSink {
    pub stats: Arc<PluginStats>,
    pub in_flight: InFlight,
    /// The shared window this source's records are admitted through; dead
    /// letters bypass it (they are queued from delivery reports, which must
    /// not wait).
    pub admission: Option<Arc<Admission>>,
    /// Where this source's failed records go, if its tenant has a topic for them.
    pub dead_letter: Option<DeadLetterTarget>,
    /// This sink carries dead letters: outcomes count as dead-lettered, and
    /// a refused dead letter is not dead-lettered again.
    pub carries_dead_letters: bool,
    /// Which of the source's checkpoints Kafka has acknowledged.
    pub checkpoints: Arc<CheckpointTracker>,
    /// Set for an exactly-once source: its records count as delivered only
    /// once their transaction commits.
    pub transaction: Option<TxnOutcome>,
}

impl RecordSink {
    pub fn new(stats: Arc<PluginStats>, in_flight: InFlight) -> Self {
        Self {
            stats,
            in_flight,
            admission: None,
            dead_letter: None,
            carries_dead_letters: false,
            checkpoints: Arc::default(),
            transaction: None,
        }
    }

    /// Counts a record that will not reach its topic, and dead-letters it if
    /// the tenant has a dead-letter topic.
    pub fn reject<'a, H: Iterator<Item = (&'a str, &'a [u8])>>(
        &self,
        failed: Failed<'a, H>,
        kind: FailureKind,
        cause: &str,
    ) {
        self.stats.fail(1, kind, cause);
        if let Some(dl) = &self.dead_letter {
            dl.submit(failed, cause);
        }
    }
}

/// Header names on dead letters.
pub const CAUSE_HEADER: &str = "streamplug.error";
pub const PLUGIN_HEADER: &str = "streamplug.plugin";
pub const TOPIC_HEADER: &str = "streamplug.topic";
/// Set instead of the value when the value was the problem (its size).
pub const VALUE_BYTES_HEADER: &str = "streamplug.value-bytes";

/// A source's dead-letter topic, and the sink that counts what becomes of
/// its dead letters.
pub struct DeadLetterTarget {
    pub topic: String,
    pub plugin: Arc<str>,
    pub sink: Arc<RecordSink>,
    pub queue: Sender<DeadLetter>,
}

/// One record on its way to a dead-letter topic.
pub struct DeadLetter {
    pub(super) sink: Arc<RecordSink>,
    pub(super) topic: String,
    pub(super) batch: Vec<u8>,
}

/// What a failed record looked like.
pub struct Failed<'a, H> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub timestamp: Option<i64>,
    pub headers: H,
    /// The value was the problem (its size): leave it out of the dead letter,
    /// which would be refused again otherwise.
    pub value_too_large: bool,
}

impl DeadLetterTarget {
    /// Queues a failed record for the dead-letter topic. Never blocks.
    pub fn submit<'a, H: Iterator<Item = (&'a str, &'a [u8])>>(
        &self,
        failed: Failed<'a, H>,
        cause: &str,
    ) {
        let too_large = failed.value_too_large;
        let mut w = BatchWriter::with_capacity(256);
        let mut r = w.record();
        if let Some(k) = failed.key {
            r = r.key(k);
        }
        let value_bytes = failed.value.map(|v| v.len().to_string());
        match failed.value {
            Some(v) if !too_large => r = r.value(v),
            _ => {}
        }
        if let Some(ts) = failed.timestamp {
            r = r.timestamp(ts);
        }
        let mut h = r
            .header(CAUSE_HEADER, cause.as_bytes())
            .header(PLUGIN_HEADER, self.plugin.as_bytes())
            .header(TOPIC_HEADER, failed.topic.as_bytes());
        if too_large && let Some(n) = &value_bytes {
            h = h.header(VALUE_BYTES_HEADER, n.as_bytes());
        }
        for (name, value) in failed.headers {
            h = h.header(name, value);
        }
        h.finish();
        let letter = DeadLetter {
            sink: self.sink.clone(),
            topic: self.topic.clone(),
            batch: w.finish(),
        };
        if self.queue.send(letter).is_err() {
            // Only after shutdown drained the queue; counted, never silent.
            PluginStats::add(&self.sink.stats.dead_letter_failed, 1);
        }
    }
}

/// The producer or the broker refused a record for its size.
pub(super) fn is_too_large(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
    )
}
