//! Bindings of `streamplug:plugin@0.2.0` (`wit/plugin.wit`), one module per
//! world. The shared interfaces are generated once (in `source`) and reused.

pub mod source {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "source",
    });
}

pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        with: {
            "streamplug:plugin/log": super::source::streamplug::plugin::log,
            "streamplug:plugin/types": super::source::streamplug::plugin::types,
            "streamplug:plugin/schema-registry": super::source::streamplug::plugin::schema_registry,
        },
    });
}

pub mod partitioner {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "partitioner",
        with: {
            "streamplug:plugin/log": super::source::streamplug::plugin::log,
            "streamplug:plugin/types": super::source::streamplug::plugin::types,
            "streamplug:plugin/schema-registry": super::source::streamplug::plugin::schema_registry,
        },
    });
}

pub use source::streamplug::plugin::{log, schema_registry};
