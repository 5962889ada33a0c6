//! The thread that produces dead letters to the tenant's dead-letter topic
//! (what a dead letter carries is in `sink`). Failures found by the host,
//! refused by the producer, or refused by the broker in a delivery report
//! all take this path.
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
use streamplug_codec::BatchReader;

use super::handover::{BatchToken, OpenRun};
use super::shared::SharedProducer;
use super::sink::DeadLetter;

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
