//! Kafka: one shared producer for every plugin, per-plugin in-flight caps,
//! a transactional producer per exactly-once source, topic creation, what
//! librdkafka says of its connections, and the embedded cluster for runs
//! without a broker.

pub mod admission;
pub mod connection;
pub mod dead_letter;
pub mod embedded;
pub mod features;
pub mod handover;
pub mod inflight;
pub mod oauth;
pub mod reports;
pub mod settings;
pub mod shared;
pub mod sink;
pub mod statistics;
pub mod topics;
pub mod transaction_outcome;
pub mod transactional;

pub use admission::Admission;
pub use handover::{BatchToken, OpenRun};
pub use inflight::InFlight;
pub use shared::SharedProducer;
pub use sink::RecordSink;
pub use transaction_outcome::TxnOutcome;
pub use transactional::TransactionalProducers;
