//! Bindings of `streamplug:plugin@0.1.0` (`wit/0.1.0/plugin.wit`), for
//! plugins built before 0.2.0. Frozen: this file changes only with wasmtime.

pub mod source {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "source",
    });
}

pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "transform",
        with: {
            "streamplug:plugin/log": super::source::streamplug::plugin::log,
            "streamplug:plugin/types": super::source::streamplug::plugin::types,
        },
    });
}

pub mod partitioner {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "partitioner",
        with: {
            "streamplug:plugin/log": super::source::streamplug::plugin::log,
            "streamplug:plugin/types": super::source::streamplug::plugin::types,
        },
    });
}

pub use source::streamplug::plugin::log;
