//! The contract's versions as the host sees them: the bindings `bindgen!`
//! generates for each (`v0_1` from `wit/0.1.0/plugin.wit`, `v0_2` from
//! `wit/plugin.wit`), kept apart, and one adapter (`adapter.rs`) through
//! which the rest of the host calls a plugin of any version the same way.
//!
//! The newest version's types are the host's own: an older plugin's values
//! are converted at the boundary.

mod adapter;
pub mod v0_1;
pub mod v0_2;

use std::fmt;

pub use adapter::{
    PartitionerBindings, PartitionerPre, SourceBindings, SourcePre, TransformBindings, TransformPre,
};
pub use v0_2::source::streamplug::plugin::source_types::{DeliveryReport, PollResult, Polled};

/// The version of `streamplug:plugin` a plugin was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Contract {
    V0_1,
    V0_2,
}

impl Contract {
    /// The export every world of this version has, which no other version has.
    pub(crate) fn setup_export(self) -> &'static str {
        match self {
            Contract::V0_1 => "init",
            Contract::V0_2 => "setup",
        }
    }

    /// Newest first: the first whose setup export a component has is its version.
    pub(crate) const ALL: [Contract; 2] = [Contract::V0_2, Contract::V0_1];
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Contract::V0_1 => "streamplug:plugin@0.1.0",
            Contract::V0_2 => "streamplug:plugin@0.2.0",
        })
    }
}
