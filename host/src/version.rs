//! `streamplug version`: what this build is made of.

use crate::plugin::Contract;
use crate::producer::features;

pub struct Versions {
    pub streamplug: &'static str,
    /// The newest plugin contract the host loads (older ones load too).
    pub wit: String,
    pub wasmtime: &'static str,
    pub librdkafka: String,
    pub librdkafka_features: &'static str,
}

impl Versions {
    pub fn current() -> Self {
        Self {
            streamplug: env!("CARGO_PKG_VERSION"),
            wit: Contract::ALL
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            wasmtime: env!("STREAMPLUG_WASMTIME_VERSION"),
            librdkafka: features::librdkafka_version(),
            librdkafka_features: features::builtin(),
        }
    }
}
