//! Where delivery reports are served and routed back to the source that
//! made each record.
//!
//! A thread of the host's own takes librdkafka's reports from the
//! producer's event queue, one event (a produce response's worth of
//! records) at a time, and settles each run of consecutive records of one
//! [`Run`](super::handover::Run) with one atomic operation. Only failed
//! records are looked at one by one. This replaces rust-rdkafka's
//! `ThreadedProducer`, which calls back once per record (the measurements
//! are in docs/performance.md). Reports that rust-rdkafka serves itself
//! (while flushing, or when the producer is dropped) take the per-record
//! path in [`DeliveryRouter::delivery`], with the same outcome.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use rdkafka::ClientContext;
use rdkafka::bindings as rd;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};

use super::connection::ConnectionLog;
use super::handover::{failed, observe, settle_reports};
use super::sink::{Failed, is_too_large};
use super::statistics::{KafkaStats, StatsCell};
use crate::stats::FailureKind;

/// The producer's context: errors to the connection log, reports to their
/// runs.
#[derive(Default)]
pub struct DeliveryRouter {
    pub connection: ConnectionLog,
    /// librdkafka's latest statistics, when `statistics.interval.ms` is set.
    pub statistics: StatsCell,
}

impl ClientContext for DeliveryRouter {
    fn error(&self, error: KafkaError, reason: &str) {
        // Connection trouble is reported here and retried by librdkafka;
        // records only fail through delivery reports.
        self.connection.error(&error, reason);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.connection.log(level, fac, message);
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        self.statistics.set(KafkaStats::from(&statistics));
    }
}

impl ProducerContext for DeliveryRouter {
    /// The record's run (see `handover`).
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let message = match result {
            Ok(m) | Err((_, m)) => rdkafka::message::BorrowedMessage::ptr(m),
        };
        // SAFETY: librdkafka hands each record's report over once, with the
        // opaque the record was sent with.
        unsafe {
            let report = Report(&*message);
            if report.is_error() {
                report.fail(opaque);
            }
            observe(opaque, 1, std::time::Instant::now());
            settle_reports(opaque, 1);
        }
    }
}

/// The thread that serves a producer's event queue.
pub struct ReportThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ReportThread {
    pub fn start(producer: Arc<BaseProducer<DeliveryRouter>>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("kafka-reports".into())
            .spawn(move || serve(&producer, &flag))
            .context("cannot start the delivery report thread")?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread (within its 100 ms poll) and waits for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            tracing::error!("the delivery report thread panicked");
        }
    }
}

/// The main queue of a producer, released when done.
struct MainQueue(*mut rd::rd_kafka_queue_t);

impl Drop for MainQueue {
    fn drop(&mut self) {
        // SAFETY: a reference from rd_kafka_queue_get_main, released once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) };
    }
}

fn serve(producer: &BaseProducer<DeliveryRouter>, stop: &AtomicBool) {
    // For comparison only (docs/performance.md): rust-rdkafka's own
    // per-record callbacks, as `ThreadedProducer` runs them.
    if std::env::var_os("STREAMPLUG_PER_RECORD_REPORTS").is_some() {
        while !stop.load(Ordering::Relaxed) {
            producer.poll(std::time::Duration::from_millis(100));
        }
        return;
    }
    // SAFETY: the producer outlives this thread (it holds an Arc of it).
    let queue = MainQueue(unsafe { rd::rd_kafka_queue_get_main(producer.client().native_ptr()) });
    let mut messages: Vec<*const rd::rd_kafka_message_t> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: the queue is valid until `queue` drops.
        let event = unsafe { rd::rd_kafka_queue_poll(queue.0, 100) };
        if event.is_null() {
            continue;
        }
        // SAFETY: a live event, destroyed once below.
        unsafe {
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_DR => serve_reports(event, &mut messages),
                rd::RD_KAFKA_EVENT_ERROR => {
                    let code = RDKafkaErrorCode::from(rd::rd_kafka_event_error(event));
                    let reason = text(rd::rd_kafka_event_error_string(event));
                    producer
                        .context()
                        .error(KafkaError::Global(code), reason.trim());
                }
                rd::RD_KAFKA_EVENT_LOG => log(producer.context(), event),
                rd::RD_KAFKA_EVENT_STATS => {
                    let stats = rd::rd_kafka_event_stats(event);
                    if !stats.is_null() {
                        producer
                            .context()
                            .stats_raw(CStr::from_ptr(stats).to_bytes());
                    }
                }
                _ => {}
            }
            rd::rd_kafka_event_destroy(event);
        }
    }
}

/// One delivery report event: consecutive records of the same run are
/// settled together.
///
/// # Safety
/// `event` is a live delivery report event.
unsafe fn serve_reports(
    event: *mut rd::rd_kafka_event_t,
    messages: &mut Vec<*const rd::rd_kafka_message_t>,
) {
    // SAFETY: the array is filled by librdkafka up to the count it returns;
    // the messages live as long as the event.
    unsafe {
        let n = rd::rd_kafka_event_message_count(event);
        messages.clear();
        messages.reserve(n);
        let got = rd::rd_kafka_event_message_array(event, messages.as_mut_ptr().cast(), n);
        messages.set_len(got.min(n));
        // One clock read for the whole event: its records were acknowledged
        // by one produce response.
        let now = std::time::Instant::now();
        let (mut run, mut count) = (0usize, 0u64);
        for &m in messages.iter() {
            let report = Report(&*m);
            let opaque = report.opaque();
            if report.is_error() {
                report.fail(opaque);
            }
            if opaque != run {
                if count > 0 {
                    observe(run, count, now);
                    settle_reports(run, count);
                }
                (run, count) = (opaque, 0);
            }
            count += 1;
        }
        if count > 0 {
            observe(run, count, now);
            settle_reports(run, count);
        }
    }
}

/// # Safety
/// `event` is a live log event.
unsafe fn log(context: &DeliveryRouter, event: *mut rd::rd_kafka_event_t) {
    let (mut fac, mut msg, mut level) = (std::ptr::null(), std::ptr::null(), 0);
    // SAFETY: as the caller promises; the strings live as long as the event.
    unsafe {
        if rd::rd_kafka_event_log(event, &mut fac, &mut msg, &mut level) != 0 {
            return;
        }
        let level = match level {
            0 => RDKafkaLogLevel::Emerg,
            1 => RDKafkaLogLevel::Alert,
            2 => RDKafkaLogLevel::Critical,
            3 => RDKafkaLogLevel::Error,
            4 => RDKafkaLogLevel::Warning,
            5 => RDKafkaLogLevel::Notice,
            6 => RDKafkaLogLevel::Info,
            _ => RDKafkaLogLevel::Debug,
        };
        context.log(level, text(fac).trim(), text(msg).trim());
    }
}

/// # Safety
/// `s` is null or a NUL-terminated string that outlives the result.
unsafe fn text<'a>(s: *const std::ffi::c_char) -> std::borrow::Cow<'a, str> {
    if s.is_null() {
        return "".into();
    }
    // SAFETY: as the caller promises.
    unsafe { CStr::from_ptr(s) }.to_string_lossy()
}

/// One record's delivery report.
struct Report<'a>(&'a rd::rd_kafka_message_t);

impl<'a> Report<'a> {
    fn is_error(&self) -> bool {
        self.0.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    }

    fn opaque(&self) -> usize {
        self.0._private as usize
    }

    fn error(&self) -> KafkaError {
        KafkaError::MessageProduction(self.0.err.into())
    }

    /// The error's protocol name, e.g. `TOPIC_AUTHORIZATION_FAILED`: what
    /// Kafka's documentation and broker logs call it.
    fn error_name(&self) -> std::borrow::Cow<'a, str> {
        // SAFETY: librdkafka returns a static string for every code.
        unsafe { text(rd::rd_kafka_err2name(self.0.err)) }
    }

    fn topic(&self) -> std::borrow::Cow<'a, str> {
        // SAFETY: a report's topic handle and name live as long as it.
        unsafe { text(rd::rd_kafka_topic_name(self.0.rkt)) }
    }

    fn bytes_at(ptr: *mut std::ffi::c_void, len: usize) -> Option<&'a [u8]> {
        // SAFETY: librdkafka's pointer and length of the report's own copy.
        (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
    }

    fn key(&self) -> Option<&'a [u8]> {
        Self::bytes_at(self.0.key, self.0.key_len)
    }

    fn value(&self) -> Option<&'a [u8]> {
        Self::bytes_at(self.0.payload, self.0.len)
    }

    fn timestamp(&self) -> Option<i64> {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a live message.
        let ts = unsafe { rd::rd_kafka_message_timestamp(self.0, &mut kind) };
        (kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE).then_some(ts)
    }

    /// The record's headers (read only for failed records).
    fn headers(&self) -> Vec<(std::borrow::Cow<'a, str>, &'a [u8])> {
        let mut out = Vec::new();
        let mut list = std::ptr::null_mut();
        // SAFETY: the header list belongs to the live message; names and
        // values live as long as it.
        unsafe {
            if rd::rd_kafka_message_headers(self.0, &mut list)
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                return out;
            }
            let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0);
            while rd::rd_kafka_header_get_all(list, out.len(), &mut name, &mut value, &mut size)
                == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let v = Self::bytes_at(value.cast_mut(), size).unwrap_or_default();
                out.push((text(name), v));
            }
        }
        out
    }

    /// A failed record: counted against its run (key, value and header
    /// bytes, as the caps count them) and passed on with its cause.
    ///
    /// # Safety
    /// `opaque` is this record's, not yet settled.
    unsafe fn fail(&self, opaque: usize) {
        let headers = self.headers();
        let bytes = self.key().map_or(0, <[u8]>::len)
            + self.value().map_or(0, <[u8]>::len)
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        // SAFETY: as the caller promises.
        let sink = unsafe { failed(opaque, bytes as u64) };
        let (error, topic) = (self.error(), self.topic());
        if let Some(txn) = &sink.transaction {
            txn.refused(&error, &topic);
        } else if sink.carries_dead_letters {
            sink.stats
                .dead_letter_failure(&format!("refused by Kafka: {error}"));
        } else {
            let failed = Failed {
                topic: &topic,
                key: self.key(),
                value: self.value(),
                timestamp: self.timestamp(),
                value_too_large: is_too_large(&error),
                headers: headers.iter().map(|(k, v)| (&**k, *v)),
            };
            let name = self.error_name();
            let kind = FailureKind::of_kafka(self.0.err.into());
            sink.reject(
                failed,
                kind,
                &format!("refused by Kafka for topic `{topic}`: {name}: {error}"),
            );
        }
    }
}
