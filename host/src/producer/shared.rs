//! The one producer every plugin shares: records handed over in runs
//! (`handover`), their delivery reports served by a thread of its own
//! (`reports`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use streamplug_codec::RecordRef;

use super::handover::OpenRun;
use super::reports::{DeliveryRouter, ReportThread};
use super::sink::is_too_large;

/// Why the producer would not take a record.
#[derive(Debug)]
pub struct Refused {
    pub cause: String,
    /// The record is over the producer's or broker's size limit.
    pub too_large: bool,
}

pub struct SharedProducer {
    pub(super) producer: Arc<BaseProducer<DeliveryRouter>>,
    reports: ReportThread,
}

impl Drop for SharedProducer {
    fn drop(&mut self) {
        // Before the producer itself is dropped (which purges and serves
        // the last reports on this thread).
        self.reports.stop();
    }
}

impl SharedProducer {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let producer: BaseProducer<DeliveryRouter> = config
            .create_with_context(DeliveryRouter::default())
            .context("cannot create the Kafka producer")?;
        super::oauth::give_token(config, producer.client())?;
        Self::serving(producer)
    }

    /// Starts serving `producer`'s delivery reports on a thread of its own.
    pub(super) fn serving(producer: BaseProducer<DeliveryRouter>) -> Result<Self> {
        let producer = Arc::new(producer);
        let reports = ReportThread::start(producer.clone())?;
        Ok(Self { producer, reports })
    }

    pub fn client(&self) -> &rdkafka::client::Client<DeliveryRouter> {
        self.producer.client()
    }

    /// Hands one record of `bytes` payload bytes to librdkafka, in `run`. A
    /// full queue is waited out, never dropped; any other refusal is
    /// returned as the record's failure cause (the caller counts it).
    pub fn send(
        &self,
        run: &mut OpenRun,
        topic: &str,
        record: &RecordRef<'_>,
        partition: Option<i32>,
        bytes: u64,
    ) -> Result<(), Refused> {
        let mut base: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic, run.add(bytes));
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
        self.enqueue(run, base, bytes)
    }

    /// Hands a checkpoint record to librdkafka (an exactly-once source's,
    /// inside its transaction).
    pub fn send_keyed(
        &self,
        run: &mut OpenRun,
        topic: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), Refused> {
        let bytes = (key.len() + value.len()) as u64;
        let base = BaseRecord::with_opaque_to(topic, run.add(bytes))
            .key(key)
            .payload(value);
        self.enqueue(run, base, bytes)
    }

    fn enqueue(
        &self,
        run: &mut OpenRun,
        mut base: BaseRecord<'_, [u8], [u8], usize>,
        bytes: u64,
    ) -> Result<(), Refused> {
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    // The report thread drains the queue as the broker acks.
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, back)) => {
                    run.refused(bytes);
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
