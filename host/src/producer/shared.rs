//! The one producer every plugin shares, and the routing of each delivery
//! report back to the source that made the record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use streamplug_codec::RecordRef;

use super::admission::Admission;
use super::connection::ConnectionLog;
use super::dead_letter::{DeadLetterTarget, Failed};
use super::inflight::InFlight;
use super::transactional::TxnOutcome;
use crate::checkpoint::CheckpointTracker;
use crate::stats::PluginStats;

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

/// What a record's delivery report updates besides its source's counters:
/// the batch it was handed over in, whose checkpoint becomes committable
/// once every record of it (and of every batch before) has its report.
/// One per batch, shared by its records, so tracking costs no allocation
/// per record.
pub struct BatchToken {
    pub sink: Arc<RecordSink>,
    /// Records without a report yet, plus one until the batch is sealed.
    pending: AtomicU64,
    seq: Option<u64>,
}

impl BatchToken {
    /// A batch whose records bring the source to `checkpoint`.
    pub fn open(sink: &Arc<RecordSink>, checkpoint: Option<Vec<u8>>) -> Arc<Self> {
        Arc::new(Self {
            sink: sink.clone(),
            pending: AtomicU64::new(1),
            seq: Some(sink.checkpoints.open(checkpoint)),
        })
    }

    /// Records outside any source's sequence (dead letters).
    pub fn untracked(sink: &Arc<RecordSink>) -> Arc<Self> {
        Arc::new(Self {
            sink: sink.clone(),
            pending: AtomicU64::new(1),
            seq: None,
        })
    }

    /// Every record of the batch has been handed over (or refused).
    pub fn seal(&self) {
        self.record_done();
    }

    fn record_done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(seq) = self.seq
        {
            self.sink.checkpoints.done(seq);
        }
    }
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
        cause: &str,
    ) {
        self.stats.fail(1, cause);
        if let Some(dl) = &self.dead_letter {
            dl.submit(failed, cause);
        }
    }
}

/// Routes delivery reports: the opaque of every record is its source's sink.
#[derive(Default)]
pub struct DeliveryRouter {
    pub connection: ConnectionLog,
}

impl ClientContext for DeliveryRouter {
    fn error(&self, error: KafkaError, reason: &str) {
        // Connection trouble is reported here and retried by librdkafka;
        // records only fail through delivery reports.
        self.connection.error(&error, reason);
    }
}

impl ProducerContext for DeliveryRouter {
    type DeliveryOpaque = Arc<BatchToken>;

    fn delivery(&self, result: &DeliveryResult<'_>, token: Arc<BatchToken>) {
        let sink = &token.sink;
        // Runs on librdkafka's polling thread: counters only, no blocking.
        let (message, error) = match result {
            Ok(m) => (m, None),
            Err((e, m)) => (m, Some(e)),
        };
        let bytes = message_bytes(message);
        if let Some(txn) = &sink.transaction {
            // Before the release below, so that whoever waits for nothing to
            // be in flight also sees this report counted.
            txn.report(error, message.topic(), bytes);
            sink.in_flight.release(1, bytes);
            token.record_done();
            return;
        }
        sink.in_flight.release(1, bytes);
        if let Some(gate) = &sink.admission {
            gate.release(1, bytes);
        }
        match (error, sink.carries_dead_letters) {
            (None, false) => {
                PluginStats::add(&sink.stats.delivered, 1);
                PluginStats::add(&sink.stats.bytes, bytes);
            }
            (None, true) => PluginStats::add(&sink.stats.dead_lettered, 1),
            (Some(e), true) => sink
                .stats
                .dead_letter_failure(&format!("refused by Kafka: {e}")),
            (Some(e), false) => {
                let headers = message.headers();
                let failed = Failed {
                    topic: message.topic(),
                    key: message.key(),
                    value: message.payload(),
                    timestamp: message.timestamp().to_millis(),
                    value_too_large: is_too_large(e),
                    headers: headers
                        .iter()
                        .flat_map(|h| h.iter())
                        .map(|h| (h.key, h.value.unwrap_or_default())),
                };
                sink.reject(
                    failed,
                    &format!("refused by Kafka for topic `{}`: {e}", message.topic()),
                );
            }
        }
        token.record_done();
    }
}

/// Payload bytes of a record as the in-flight caps count them: key, value,
/// header names and values (the same figure as `RecordRef::payload_len`).
fn message_bytes<M: Message>(m: &M) -> u64 {
    let headers = m.headers().map_or(0, |h| {
        h.iter()
            .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
            .sum()
    });
    (m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len) + headers) as u64
}

/// Why the producer would not take a record.
#[derive(Debug)]
pub struct Refused {
    pub cause: String,
    /// The record is over the producer's or broker's size limit.
    pub too_large: bool,
}

fn is_too_large(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
    )
}

pub struct SharedProducer {
    pub(super) producer: ThreadedProducer<DeliveryRouter>,
}

impl SharedProducer {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let producer = config
            .create_with_context(DeliveryRouter::default())
            .context("cannot create the Kafka producer")?;
        Ok(Self { producer })
    }

    pub fn client(&self) -> &rdkafka::client::Client<DeliveryRouter> {
        self.producer.client()
    }

    /// Hands one record to librdkafka. A full queue is waited out, never
    /// dropped; any other refusal is returned as the record's failure cause
    /// (the caller counts it). A sink with an admission window must hold a
    /// credit for the record: it is returned on refusal or delivery.
    pub fn send(
        &self,
        token: &Arc<BatchToken>,
        topic: &str,
        record: &RecordRef<'_>,
        partition: Option<i32>,
    ) -> Result<(), Refused> {
        let bytes = record.payload_len() as u64;
        token.pending.fetch_add(1, Ordering::AcqRel);
        let mut base: BaseRecord<'_, [u8], [u8], Arc<BatchToken>> =
            BaseRecord::with_opaque_to(topic, token.clone());
        if let Some(k) = record.key {
            base = base.key(k);
        }
        if let Some(v) = record.value {
            base = base.payload(v);
        }
        if let Some(ts) = record.timestamp {
            base = base.timestamp(ts);
        }
        if let Some(p) = partition {
            base = base.partition(p);
        }
        if !record.headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in record.headers {
                h = h.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            base = base.headers(h);
        }
        self.enqueue(token, base, bytes)
    }

    /// Hands a checkpoint record to librdkafka (an exactly-once source's,
    /// inside its transaction).
    pub fn send_keyed(
        &self,
        token: &Arc<BatchToken>,
        topic: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), Refused> {
        token.pending.fetch_add(1, Ordering::AcqRel);
        let base = BaseRecord::with_opaque_to(topic, token.clone())
            .key(key)
            .payload(value);
        self.enqueue(token, base, (key.len() + value.len()) as u64)
    }

    fn enqueue(
        &self,
        token: &Arc<BatchToken>,
        mut base: BaseRecord<'_, [u8], [u8], Arc<BatchToken>>,
        bytes: u64,
    ) -> Result<(), Refused> {
        let sink = &token.sink;
        let in_flight = sink.in_flight.acquire(1, bytes);
        if let Some(gate) = &sink.admission {
            gate.add_bytes(bytes);
        }
        if in_flight
            > sink
                .stats
                .peak_in_flight
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            sink.stats
                .peak_in_flight
                .fetch_max(in_flight, std::sync::atomic::Ordering::Relaxed);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    // The polling thread drains the queue as the broker acks.
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, back)) => {
                    sink.in_flight.release(1, bytes);
                    if let Some(gate) = &sink.admission {
                        gate.release(1, bytes);
                    }
                    token.record_done();
                    return Err(Refused {
                        too_large: is_too_large(&e),
                        cause: format!("refused by the producer for topic `{}`: {e}", back.topic),
                    });
                }
            }
        }
    }

    /// Waits until every record handed over has a delivery report, or the
    /// deadline passes. Returns how many are still in flight.
    pub fn flush(&self, deadline: Instant) -> u64 {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.producer.flush(left.min(Duration::from_secs(1))) {
                Ok(()) => return 0,
                Err(_) if Instant::now() >= deadline => {
                    return self.producer.in_flight_count().max(0) as u64;
                }
                Err(_) => {}
            }
        }
    }
}
