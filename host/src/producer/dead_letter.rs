//! Where records that cannot reach their topic go: the tenant's dead-letter
//! topic, with the cause, the source plugin and the original topic in
//! headers. Failures found by the host, refused by the producer, or refused
//! by the broker in a delivery report all take this path.
//!
//! Delivery reports arrive on librdkafka's polling thread, which must not
//! block, so dead letters are queued to a thread of their own. Each is
//! encoded as a one-record batch so that it is produced like any record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use streamplug_codec::{BatchReader, BatchWriter};

use super::handover::{BatchToken, OpenRun};
use super::shared::{RecordSink, SharedProducer};
use crate::stats::PluginStats;

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
    sink: Arc<RecordSink>,
    topic: String,
    batch: Vec<u8>,
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

/// The thread that produces dead letters.
pub struct DeadLetterQueue {
    sender: Sender<DeadLetter>,
    finishing: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DeadLetterQueue {
    pub fn start(producer: Arc<SharedProducer>) -> Result<Self> {
        let (sender, receiver) = channel();
        let finishing = Arc::new(AtomicBool::new(false));
        let done = finishing.clone();
        let thread = std::thread::Builder::new()
            .name("dead-letters".into())
            .spawn(move || run(&producer, &receiver, &done))
            .context("cannot start the dead-letter thread")?;
        Ok(Self {
            sender,
            finishing,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn sender(&self) -> Sender<DeadLetter> {
        self.sender.clone()
    }

    /// Produces every dead letter queued so far, then stops the thread. Call
    /// after the producer was flushed, so that every delivery report (and
    /// so every dead letter) is in.
    pub fn finish(&self) {
        self.finishing.store(true, Ordering::SeqCst);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("the dead-letter thread panicked");
        }
    }
}

fn run(producer: &SharedProducer, queue: &Receiver<DeadLetter>, finishing: &AtomicBool) {
    loop {
        match queue.recv_timeout(Duration::from_millis(50)) {
            Ok(letter) => produce(producer, &letter),
            Err(RecvTimeoutError::Timeout) if finishing.load(Ordering::SeqCst) => return,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn produce(producer: &SharedProducer, letter: &DeadLetter) {
    let record = BatchReader::new(&letter.batch)
        .ok()
        .and_then(|mut r| r.next())
        .and_then(Result::ok);
    let outcome = match record {
        Some(record) => {
            let token = BatchToken::untracked(&letter.sink);
            let mut run = OpenRun::open(&token, 1, u64::MAX);
            let bytes = record.payload_len() as u64;
            let sent = producer.send(&mut run, &letter.topic, &record, None, bytes);
            run.close(&letter.sink);
            token.seal();
            sent.map_err(|r| r.cause)
        }
        None => Err("internal error: unreadable dead letter".to_string()),
    };
    if let Err(cause) = outcome {
        letter.sink.stats.dead_letter_failure(&cause);
    }
}
