//! Plugins: loading and validating components, the compile cache, the
//! sandbox each instance runs in, the host functions it may call, and the
//! bounds on the waits it may block in.

pub mod bindings;
pub mod cache;
pub mod component;
pub mod host;
pub mod interrupt;
pub mod logs;
pub mod sandbox;
pub mod schema_registry;
mod usage;
mod waits;

pub use bindings::Contract;
pub use cache::{CompileCache, Origin, content_hash};
pub use component::{LoadedPlugin, Loader, World, linker, load};
pub use interrupt::Interrupt;
pub use logs::PluginLog;
pub use sandbox::{PartitionerInstance, PluginError, SourceInstance, TransformInstance};
pub use usage::Usage;
