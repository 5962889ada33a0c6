//! Why records fail, as a small fixed set of kinds: what `/metrics` labels
//! failures with. The free-text cause (for people) stays in the summary's
//! `failures`; these kinds keep the label set bounded however many causes
//! a run meets.

use rdkafka::error::RDKafkaErrorCode;

/// The kind of a record's failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Kafka (the broker or librdkafka) refused the record.
    ProducerRefused,
    /// Not acknowledged within `message.timeout.ms`.
    TimedOut,
    /// Over a size limit: `max_record_bytes`, or the producer's or topic's.
    OverCap,
    /// A transform or partitioner failed, returned an error or was given up on.
    PluginError,
    /// A key or value did not fit its format or schema.
    SchemaMismatch,
    /// The record asked for a topic or partition it may not have.
    InvalidRoute,
    /// Anything else (for example, purged from the producer at shutdown).
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 7] = [
        Self::ProducerRefused,
        Self::TimedOut,
        Self::OverCap,
        Self::PluginError,
        Self::SchemaMismatch,
        Self::InvalidRoute,
        Self::Other,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::ProducerRefused => "producer_refused",
            Self::TimedOut => "timed_out",
            Self::OverCap => "over_cap",
            Self::PluginError => "plugin_error",
            Self::SchemaMismatch => "schema_mismatch",
            Self::InvalidRoute => "invalid_route",
            Self::Other => "other",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The kind of a delivery report's error.
    pub fn of_kafka(code: RDKafkaErrorCode) -> Self {
        use RDKafkaErrorCode as C;
        match code {
            C::MessageTimedOut | C::RequestTimedOut => Self::TimedOut,
            C::MessageSizeTooLarge | C::InvalidMessageSize => Self::OverCap,
            C::PurgeQueue | C::PurgeInflight => Self::Other,
            _ => Self::ProducerRefused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_index_and_label() {
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let labels: std::collections::BTreeSet<_> =
            FailureKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), FailureKind::ALL.len());
    }
}
