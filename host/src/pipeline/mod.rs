//! Pipelines: each source, its transforms and partitioner, feeding the
//! shared producer from a thread of its own.

pub mod exactly_once;
pub mod quota;
pub mod stage;
pub mod stop;
pub mod swap;
pub mod worker;

pub use exactly_once::Transactions;
pub use stage::{Backoff, PluginSpec};
pub use stop::Stop;
pub use swap::{SwapQueue, SwapRequest};
pub use worker::{Pipeline, PipelineEnv, PipelineSpec};
