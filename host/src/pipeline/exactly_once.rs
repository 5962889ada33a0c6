//! Exactly-once delivery for a source that asks for it. Its records go
//! through a transactional producer of its own, and its checkpoint is
//! written to the checkpoint topic in the same transaction, as Kafka Connect
//! does for source connectors (KIP-618). Records and position become
//! visible together or not at all: after a crash, the next instance fences
//! this one and aborts its open transaction, then resumes from the
//! checkpoint of the last committed one, so a `read_committed` consumer sees
//! every record once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checkpoint::store::frame;
use crate::producer::transactional::TxnError;
use crate::producer::{BatchToken, InFlight, OpenRun, RecordSink, SharedProducer, TxnOutcome};
use crate::stats::PluginStats;

/// The longest one commit or abort call waits before it is tried again.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Transactions {
    producer: Arc<SharedProducer>,
    /// Carries the checkpoint records; a refusal there aborts the transaction
    /// like any other.
    control: Arc<RecordSink>,
    checkpoint_topic: String,
    source: Arc<str>,
    interval: Duration,
    /// How long a commit may keep retrying (a broker outage) before the
    /// transaction is aborted instead.
    commit_timeout: Duration,
    /// When the open transaction began.
    began: Option<Instant>,
    /// Records handed over in the open transaction.
    handed: u64,
    /// The checkpoint of the last committed transaction: where the source
    /// goes back to when one aborts.
    committed: Option<Vec<u8>>,
    /// Aborts since the last commit.
    pub aborts_in_a_row: u32,
}

/// How a transaction ended.
pub enum Ended {
    Committed,
    /// Aborted, with why; its records will be produced again.
    Aborted(String),
    /// The source cannot go on.
    Fatal(String),
}

impl Transactions {
    pub fn new(
        producer: Arc<SharedProducer>,
        checkpoint_topic: &str,
        source: Arc<str>,
        interval: Duration,
        commit_timeout: Duration,
        stats: Arc<PluginStats>,
    ) -> Self {
        let mut control = RecordSink::new(stats, InFlight::new(u64::MAX, u64::MAX));
        control.transaction = Some(TxnOutcome::default());
        Self {
            producer,
            control: Arc::new(control),
            checkpoint_topic: checkpoint_topic.to_string(),
            source,
            interval,
            commit_timeout,
            began: None,
            handed: 0,
            committed: None,
            aborts_in_a_row: 0,
        }
    }

    /// The producer the source's records go through.
    pub fn producer(&self) -> Arc<SharedProducer> {
        self.producer.clone()
    }

    /// The source starts from `checkpoint`, already committed.
    pub fn resume_from(&mut self, checkpoint: Option<Vec<u8>>) {
        self.committed = checkpoint;
    }

    pub fn committed(&self) -> Option<Vec<u8>> {
        self.committed.clone()
    }

    /// Opens a transaction unless one is open. An error means the source
    /// cannot go on (nothing is open to abort).
    pub fn begin(&mut self) -> Result<(), String> {
        if self.began.is_some() {
            return Ok(());
        }
        match self.producer.begin_transaction() {
            Ok(()) => {
                self.began = Some(Instant::now());
                Ok(())
            }
            Err(TxnError::Fatal(e) | TxnError::Abort(e) | TxnError::Retriable(e)) => {
                Err(format!("cannot begin a transaction: {e}"))
            }
        }
    }

    pub fn handed(&mut self, records: u64) {
        self.handed += records;
    }

    /// The open transaction has run for its interval.
    pub fn due(&self) -> bool {
        self.began.is_some_and(|t| t.elapsed() >= self.interval)
    }

    /// Ends the open transaction: writes `checkpoint` into it and commits,
    /// or aborts it if that fails. `sink` is the source's.
    pub fn end(&mut self, sink: &RecordSink, checkpoint: Option<&Vec<u8>>) -> Ended {
        let ended = self.try_end(sink, checkpoint);
        if let Ended::Fatal(_) = ended {
            // Nothing more can be done with this producer.
            self.began = None;
        }
        ended
    }

    fn try_end(&mut self, sink: &RecordSink, checkpoint: Option<&Vec<u8>>) -> Ended {
        if self.began.is_none() {
            return Ended::Committed;
        }
        let stats = &sink.stats;
        if let Some(c) = checkpoint.filter(|c| Some(*c) != self.committed.as_ref()) {
            let token = BatchToken::untracked(&self.control);
            let mut run = OpenRun::open(&token, 1, u64::MAX);
            let sent = self.producer.send_keyed(
                &mut run,
                &self.checkpoint_topic,
                self.source.as_bytes(),
                &frame(c),
            );
            run.close(&self.control);
            token.seal();
            if let Err(refused) = sent {
                return self.abort(sink, format!("its checkpoint: {}", refused.cause));
            }
        }
        let deadline = Instant::now() + self.commit_timeout;
        loop {
            match self.producer.commit_transaction(CALL_TIMEOUT) {
                Ok(()) => break,
                Err(TxnError::Retriable(e)) if Instant::now() < deadline => {
                    tracing::warn!(plugin = &*self.source, "commit not done yet, retrying: {e}");
                }
                Err(TxnError::Fatal(e)) => return Ended::Fatal(e),
                Err(TxnError::Retriable(e) | TxnError::Abort(e)) => {
                    let cause = self.refusal(sink).unwrap_or(e);
                    return self.abort(sink, cause);
                }
            }
        }
        wait_until_reported(sink);
        let (records, bytes) = sink
            .transaction
            .as_ref()
            .map_or((0, 0), TxnOutcome::take_acked);
        PluginStats::add(&stats.delivered, records);
        PluginStats::add(&stats.bytes, bytes);
        PluginStats::add(&stats.transactions, 1);
        if let Some(c) = checkpoint {
            self.committed = Some(c.clone());
            sink.checkpoints.set_committed_now(c.clone());
        }
        self.began = None;
        self.handed = 0;
        self.aborts_in_a_row = 0;
        Ended::Committed
    }

    /// Why the broker refused a record of the open transaction, if it did.
    fn refusal(&self, sink: &RecordSink) -> Option<String> {
        let of = |s: &RecordSink| s.transaction.as_ref().and_then(TxnOutcome::take_refused);
        of(sink).or_else(|| of(&self.control))
    }

    fn abort(&mut self, sink: &RecordSink, cause: String) -> Ended {
        let deadline = Instant::now() + self.commit_timeout;
        loop {
            match self.producer.abort_transaction(CALL_TIMEOUT) {
                Ok(()) => break,
                Err(TxnError::Retriable(_)) if Instant::now() < deadline => {}
                Err(TxnError::Retriable(e) | TxnError::Abort(e) | TxnError::Fatal(e)) => {
                    return Ended::Fatal(format!(
                        "the transaction failed ({cause}) and could not be aborted: {e}"
                    ));
                }
            }
        }
        wait_until_reported(sink);
        let _ = self.refusal(sink);
        if let Some(txn) = &sink.transaction {
            txn.take_acked();
        }
        let stats = &sink.stats;
        PluginStats::add(&stats.aborted, self.handed);
        stats.abort(&cause);
        self.began = None;
        self.handed = 0;
        self.aborts_in_a_row += 1;
        Ended::Aborted(cause)
    }
}

/// Waits (briefly) for the delivery callbacks of a finished transaction to
/// have run, so its counts are complete.
fn wait_until_reported(sink: &RecordSink) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.in_flight.records() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}
