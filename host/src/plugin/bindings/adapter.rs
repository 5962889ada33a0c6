//! One interface over every contract version: a template and a running
//! instance of each world are an enum over the versions' generated bindings,
//! and each call is translated for the version it reaches. What a version
//! lacks is filled in here (a 0.1.0 source gets no byte budget), so the
//! pipeline never asks which version it runs.

// The generated bindings take batches and checkpoints as `&Vec<u8>`.
#![allow(clippy::ptr_arg)]

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::{Contract, DeliveryReport, PollResult, Polled, v0_1, v0_2};
use crate::plugin::host::HostState;

type Settings = Vec<(String, String)>;
type Outcome<T> = wasmtime::Result<Result<T, String>>;

/// Defines, for one world, the template (`$pre`) and the running instance
/// (`$bindings`) as enums over the versions, with instantiation and `setup`
/// (`init` in 0.1.0).
macro_rules! versioned_world {
    ($world:ident, $pre:ident, $bindings:ident, $Pre:ident, $Instance:ident) => {
        #[derive(Clone)]
        pub enum $pre {
            V0_1(v0_1::$world::$Pre<HostState>),
            V0_2(v0_2::$world::$Pre<HostState>),
        }

        pub enum $bindings {
            V0_1(v0_1::$world::$Instance),
            V0_2(v0_2::$world::$Instance),
        }

        impl $pre {
            /// Type-checks `pre` against the world of `contract`.
            pub fn new(pre: InstancePre<HostState>, contract: Contract) -> wasmtime::Result<Self> {
                Ok(match contract {
                    Contract::V0_1 => Self::V0_1(v0_1::$world::$Pre::new(pre)?),
                    Contract::V0_2 => Self::V0_2(v0_2::$world::$Pre::new(pre)?),
                })
            }

            pub fn contract(&self) -> Contract {
                match self {
                    Self::V0_1(_) => Contract::V0_1,
                    Self::V0_2(_) => Contract::V0_2,
                }
            }

            pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<$bindings> {
                Ok(match self {
                    Self::V0_1(p) => $bindings::V0_1(p.instantiate(store)?),
                    Self::V0_2(p) => $bindings::V0_2(p.instantiate(store)?),
                })
            }
        }
    };
}

versioned_world!(source, SourcePre, SourceBindings, SourcePre, Source);
versioned_world!(
    transform,
    TransformPre,
    TransformBindings,
    TransformPre,
    Transform
);
versioned_world!(
    partitioner,
    PartitionerPre,
    PartitionerBindings,
    PartitionerPre,
    Partitioner
);

impl SourceBindings {
    pub fn call_setup(
        &self,
        store: &mut Store<HostState>,
        config: &Settings,
        resume_from: Option<&Vec<u8>>,
    ) -> Outcome<()> {
        match self {
            Self::V0_1(b) => b.call_init(store, config, resume_from),
            Self::V0_2(b) => b.call_setup(store, config, resume_from),
        }
    }

    /// Whether `max_bytes` reaches the plugin (0.1.0 sources know no byte
    /// budget, so their batches are not held to one).
    pub fn takes_byte_budget(&self) -> bool {
        matches!(self, Self::V0_2(_))
    }

    pub fn call_poll(
        &self,
        store: &mut Store<HostState>,
        max_records: u32,
        max_bytes: u64,
    ) -> Outcome<PollResult> {
        match self {
            Self::V0_1(b) => Ok(b.call_poll_records(store, max_records)?.map(poll_from_v0_1)),
            Self::V0_2(b) => b.call_poll_records(store, max_records, max_bytes),
        }
    }

    pub fn call_on_delivery(
        &self,
        store: &mut Store<HostState>,
        report: &DeliveryReport,
    ) -> wasmtime::Result<()> {
        match self {
            Self::V0_1(b) => b.call_on_delivery(store, &report_to_v0_1(report)),
            Self::V0_2(b) => b.call_on_delivery(store, report),
        }
    }
}

impl TransformBindings {
    pub fn call_setup(&self, store: &mut Store<HostState>, config: &Settings) -> Outcome<()> {
        match self {
            Self::V0_1(b) => b.call_init(store, config),
            Self::V0_2(b) => b.call_setup(store, config),
        }
    }

    pub fn call_process(&self, store: &mut Store<HostState>, batch: &Vec<u8>) -> Outcome<Vec<u8>> {
        match self {
            Self::V0_1(b) => b.call_process(store, batch),
            Self::V0_2(b) => b.call_process(store, batch),
        }
    }
}

impl PartitionerBindings {
    pub fn call_setup(&self, store: &mut Store<HostState>, config: &Settings) -> Outcome<()> {
        match self {
            Self::V0_1(b) => b.call_init(store, config),
            Self::V0_2(b) => b.call_setup(store, config),
        }
    }

    pub fn call_partition(
        &self,
        store: &mut Store<HostState>,
        topic: &str,
        partition_count: u32,
        batch: &Vec<u8>,
    ) -> Outcome<Vec<u32>> {
        match self {
            Self::V0_1(b) => b.call_partition(store, topic, partition_count, batch),
            Self::V0_2(b) => b.call_partition(store, topic, partition_count, batch),
        }
    }
}

fn poll_from_v0_1(
    result: v0_1::source::streamplug::plugin::source_types::PollResult,
) -> PollResult {
    use v0_1::source::streamplug::plugin::source_types as old;
    match result {
        old::PollResult::Records(old::Polled {
            records,
            checkpoint,
        }) => PollResult::Records(Polled {
            records,
            checkpoint,
        }),
        old::PollResult::Idle(ms) => PollResult::Idle(ms),
        old::PollResult::Finished => PollResult::Finished,
    }
}

/// Delivery reports are rare (only when something changed): a copy is cheap.
fn report_to_v0_1(
    report: &DeliveryReport,
) -> v0_1::source::streamplug::plugin::source_types::DeliveryReport {
    v0_1::source::streamplug::plugin::source_types::DeliveryReport {
        committed: report.committed.clone(),
        failed: report.failed.clone(),
    }
}
