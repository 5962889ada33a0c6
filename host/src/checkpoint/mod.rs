//! Source checkpoints that survive the host: which position a source may
//! resume from after a crash is decided by Kafka's acknowledgements
//! (`tracker`), kept in a store (`store`: a compacted Kafka topic or local
//! files), and committed periodically and at shutdown (`committer`).

pub mod committer;
pub mod store;
pub mod tracker;

pub use committer::{Commits, Committer};
pub use store::{CheckpointStore, open_store};
pub use tracker::CheckpointTracker;
