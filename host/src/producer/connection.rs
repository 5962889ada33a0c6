//! What librdkafka says about its connections to the brokers. Its client
//! errors (refused connections, failed TLS handshakes, rejected credentials)
//! are retried by librdkafka itself and reach the host only here: the last
//! one is kept, so that a connect that does not succeed can name its cause.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

#[derive(Default)]
pub struct ConnectionLog {
    last: Mutex<Option<Seen>>,
    /// Set while the connect step waits for a first answer and reports
    /// progress itself: errors then go to the debug log, not one a retry.
    connecting: AtomicBool,
}

struct Seen {
    reason: String,
    /// Retrying cannot mend it: wrong credentials, a certificate refused.
    fatal: bool,
}

impl ConnectionLog {
    /// From librdkafka's error callback.
    pub fn error(&self, error: &KafkaError, reason: &str) {
        let fatal = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL)
        );
        if self.connecting.load(Ordering::Relaxed) {
            tracing::debug!("kafka: {error}: {reason}");
        } else {
            tracing::warn!("kafka: {error}: {reason}");
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // "All broker connections are down" follows each specific failure
        // and would hide it: it names no cause.
        let summary = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if summary && last.is_some() {
            return;
        }
        *last = Some(Seen {
            reason: reason.to_string(),
            fatal,
        });
    }

    /// Whether the connect step is waiting (and reporting) now.
    pub fn set_connecting(&self, connecting: bool) {
        self.connecting.store(connecting, Ordering::Relaxed);
    }

    /// The last error's reason, if any came.
    pub fn last(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.reason.clone())
    }

    /// The last error, if retrying cannot mend it.
    pub fn fatal(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| s.fatal)
            .map(|s| s.reason.clone())
    }
}
