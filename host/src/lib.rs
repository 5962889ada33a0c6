//! streamplug: runs sandboxed WebAssembly plugins (sources, transforms,
//! partitioners) and produces what they make to Kafka through one shared,
//! batched, idempotent producer.
//!
//! - [`checkpoint`]: durable source positions, committed on Kafka's acknowledgements.
//! - [`cluster`]: hosts sharing sources through a Kafka consumer group.
//! - [`config`]: the TOML file.
//! - [`harness`]: `streamplug test`, one plugin run locally without Kafka.
//! - [`plugin`]: loading, caching, sandboxing plugins.
//! - [`pipeline`]: moving batches from sources to the producer.
//! - [`producer`]: the shared producer, in-flight caps, topics.
//! - [`reload`]: hot reload of plugin files and config.
//! - [`runtime`]: `streamplug run` from start to summary.
//! - [`scaffold`]: `streamplug new`, a ready plugin project from templates.
//! - [`secrets`]: passwords and tokens that are never shown.
//! - [`supervisor`]: which pipelines run; start, drain-and-commit, stop.

pub mod admin;
pub mod checkpoint;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod format;
pub mod harness;
pub mod latency;
pub mod metrics;
pub mod pipeline;
pub mod plugin;
pub mod producer;
pub mod reload;
pub mod runtime;
pub mod scaffold;
pub mod secrets;
pub mod stats;
pub mod status;
pub mod supervisor;
pub mod version;

pub use config::Config;
pub use pipeline::Stop;
pub use reload::Controls;
pub use stats::Summary;
