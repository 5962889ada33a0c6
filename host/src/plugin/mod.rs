//! Plugins: loading and validating components, the compile cache, the
//! sandbox each instance runs in, and the host functions it may call.

pub mod bindings;
pub mod cache;
pub mod component;
pub mod host;
pub mod sandbox;
pub mod schema_registry;

pub use bindings::Contract;
pub use cache::{CompileCache, Origin, content_hash};
pub use component::{LoadedPlugin, Loader, World, linker, load};
pub use sandbox::{PartitionerInstance, PluginError, SourceInstance, TransformInstance};
