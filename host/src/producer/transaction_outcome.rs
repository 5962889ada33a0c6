//! What the delivery reports of an exactly-once source's open transaction
//! add up to before it commits or aborts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Delivery reports of the open transaction. A report means the record is
/// written, not yet visible: only the commit makes it delivered.
#[derive(Default)]
pub struct TxnOutcome {
    acked: AtomicU64,
    acked_bytes: AtomicU64,
    /// The first record the broker refused: why the transaction must abort.
    refused: Mutex<Option<String>>,
}

impl TxnOutcome {
    /// From delivery reports: records acknowledged (a run of them).
    pub(super) fn acked(&self, records: u64, bytes: u64) {
        self.acked.fetch_add(records, SeqCst);
        self.acked_bytes.fetch_add(bytes, SeqCst);
    }

    /// From a delivery report: a record of `topic` failed with `error`.
    pub(super) fn refused(&self, error: &KafkaError, topic: &str) {
        match error {
            // Purged by an abort: the abort has its own cause.
            KafkaError::MessageProduction(
                RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight,
            ) => {}
            e => {
                let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
                if refused.is_none() {
                    *refused = Some(format!("refused by Kafka for topic `{topic}`: {e}"));
                }
            }
        }
    }

    /// Records and bytes acknowledged since the last call.
    pub fn take_acked(&self) -> (u64, u64) {
        (self.acked.swap(0, SeqCst), self.acked_bytes.swap(0, SeqCst))
    }

    /// Why a record was refused since the last call, if one was.
    pub fn take_refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
