//! What librdkafka says about its connections to the brokers. Its client
//! errors (refused connections, failed TLS handshakes, rejected credentials)
//! are retried by librdkafka itself and reach the host only here: the last
//! one is kept, so that a connect that does not succeed can name its cause.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::config::RDKafkaLogLevel;
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

    /// librdkafka's own log line: while the connect step waits, its
    /// failures are what that step reports, once and in plain words; they
    /// go to the debug log instead of repeating as errors.
    pub fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let failure = (level as i32) <= (RDKafkaLogLevel::Error as i32);
        if failure && self.connecting.load(Ordering::Relaxed) {
            tracing::debug!("librdkafka: {fac} {message}");
        } else {
            log_at(level, fac, message);
        }
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

/// librdkafka's log line at its own level.
pub fn log_at(level: RDKafkaLogLevel, fac: &str, message: &str) {
    use RDKafkaLogLevel::*;
    match level {
        Emerg | Alert | Critical | Error => tracing::error!("librdkafka: {fac} {message}"),
        Warning => tracing::warn!("librdkafka: {fac} {message}"),
        Notice | Info => tracing::info!("librdkafka: {fac} {message}"),
        Debug => tracing::debug!("librdkafka: {fac} {message}"),
    }
}

/// The context of a client whose every call's result is checked (the
/// checkpoint store's): librdkafka's errors and log go to the debug log,
/// since a failure that matters reaches the caller anyway, and closing the
/// client while a connection is still authenticating is no failure at all.
pub struct Quiet;

impl rdkafka::ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(?level, "librdkafka: {fac} {message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("kafka: {error}: {reason}");
    }
}

impl rdkafka::consumer::ConsumerContext for Quiet {}
