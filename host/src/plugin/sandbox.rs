//! One plugin instance in its own store: memory cap, CPU deadline per call,
//! and failures turned into errors that name their cause.
//!
//! A trap leaves a store unusable ("cannot enter component instance"), so any
//! failure other than the plugin's own `err` means: drop this instance and
//! make a new one from the template.
//!
//! Batches are taken as `&Vec<u8>` because that is what the generated
//! bindings of `type batch = list<u8>` ask for.
#![allow(clippy::ptr_arg)]

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTableError;
use wasmtime::{Engine, Store, Trap};

use super::bindings::{
    DeliveryReport, PartitionerBindings, PollResult, SourceBindings, TransformBindings,
};
use super::component::{LoadedPlugin, Template};
use super::host::{HostState, MAX_HOST_RESOURCES};
use super::interrupt::Interrupt;
use super::logs::PluginLog;
use super::usage::Usage;
use super::waits::WaitEnded;
use crate::config::{Capabilities, PluginLimits};
use crate::engine::deadline_ticks;
use crate::format::registry::SchemaRegistry;

/// Why a call into a plugin did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The plugin returned `err`; the instance is intact and may be called again.
    Returned(String),
    /// The instance trapped, hit a limit or broke the contract: replace it.
    Failed(String),
    /// The instance was let go from a blocking wait, to stop or swap: not
    /// its fault, but the instance is unusable (replace it if needed).
    Interrupted(String),
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::Returned(m) => write!(f, "plugin returned an error: {m}"),
            PluginError::Failed(m) | PluginError::Interrupted(m) => f.write_str(m),
        }
    }
}

const MIB: f64 = (1 << 20) as f64;

struct Sandbox {
    store: Store<HostState>,
    limits: PluginLimits,
    throttled_before: bool,
}

impl Sandbox {
    fn new(
        engine: &Engine,
        log: Arc<PluginLog>,
        limits: PluginLimits,
        capabilities: &Capabilities,
        interrupt: Option<Arc<Interrupt>>,
        registry: Option<Arc<SchemaRegistry>>,
        usage: Option<Arc<Usage>>,
    ) -> Result<Self, PluginError> {
        let memory_cap = usize::try_from(limits.memory.0).unwrap_or(usize::MAX);
        let mut state = HostState::new(log, memory_cap, capabilities)
            .map_err(|e| PluginError::Failed(format!("cannot grant capabilities: {e}")))?;
        if let Some(interrupt) = interrupt {
            state.interrupt = interrupt;
        }
        state.registry = registry;
        if let Some(usage) = usage {
            state.limiter.usage = usage;
        }
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        Ok(Self {
            store,
            limits,
            throttled_before: false,
        })
    }

    /// Runs one call with a fresh CPU deadline, sorting out what went wrong.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, PluginError> {
        let state = self.store.data_mut();
        state.limiter.denied = None;
        state
            .recent_stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let started = Instant::now();
        state.call_deadline = Some(started + Duration::from_millis(self.limits.call_timeout_ms));
        self.store
            .set_epoch_deadline(deadline_ticks(self.limits.call_timeout_ms));
        let outcome = match f(&mut self.store) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(msg)) => Err(PluginError::Returned(msg)),
            Err(e) => Err(self.failure(&e)),
        };
        let spent = started.elapsed();
        self.store.data().limiter.usage.called(spent);
        self.keep_to_cpu_budget(spent);
        outcome
    }

    /// Holds the plugin to `cpu_ms_per_second` on average: after a call that
    /// took `spent`, it pauses long enough that `spent` is its share of the
    /// time since the call began. A call's duration stands for its CPU time:
    /// plugins compute, they do not block.
    fn keep_to_cpu_budget(&mut self, spent: Duration) {
        let share = self.limits.cpu_ms_per_second.clamp(1, 1000) as f64 / 1000.0;
        if share >= 1.0 {
            return;
        }
        let pause = spent.mul_f64(1.0 / share - 1.0);
        if !self.throttled_before {
            self.throttled_before = true;
            tracing::info!(
                plugin = &*self.store.data().plugin_name(),
                "held to {} ms of CPU per second: a {} ms call is followed by a {} ms pause",
                self.limits.cpu_ms_per_second,
                spent.as_millis(),
                pause.as_millis()
            );
        }
        std::thread::sleep(pause);
    }

    fn failure(&self, e: &wasmtime::Error) -> PluginError {
        match e.downcast_ref::<WaitEnded>() {
            Some(WaitEnded::Deadline) => PluginError::Failed(format!(
                "call time limit exceeded: a call ran longer than {} ms, blocked in a WASI sleep or poll, \
                 and was interrupted (a source that waits should return Poll::Idle(ms) instead)",
                self.limits.call_timeout_ms
            )),
            Some(ended @ WaitEnded::Interrupted(_)) => PluginError::Interrupted(ended.to_string()),
            None => PluginError::Failed(self.cause(e)),
        }
    }

    fn cause(&self, e: &wasmtime::Error) -> String {
        let state = self.store.data();
        if let Some(asked) = state.limiter.denied {
            return format!(
                "memory limit exceeded: the plugin tried to grow its memory to {:.1} MiB, its limit is {:.1} MiB",
                asked as f64 / MIB,
                state.limiter.cap as f64 / MIB
            );
        }
        // Rust's panic hook prints the message, then a hint that says nothing
        // about the cause: keep the message.
        let stderr = state
            .recent_stderr
            .lock()
            .map(|lines| {
                let useful: Vec<&str> = lines
                    .iter()
                    .map(String::as_str)
                    .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                    .collect();
                useful.join(" ")
            })
            .unwrap_or_default();
        if let Some(ResourceTableError::Full) = e.downcast_ref::<ResourceTableError>() {
            return format!(
                "resource limit exceeded: the plugin held more than {MAX_HOST_RESOURCES} sockets, files and streams at once"
            );
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!(
                "CPU time limit exceeded: a call ran longer than {} ms and was interrupted",
                self.limits.call_timeout_ms
            ),
            Some(trap) if stderr.is_empty() => format!("trapped: {trap}"),
            Some(trap) => format!("trapped: {trap} (stderr: {stderr})"),
            None => format!("failed: {e:#}"),
        }
    }

    fn instantiate<T>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        self.call(|s| f(s).map(Ok)).map_err(|e| match e {
            // The pooling allocator's slots are all taken: say which setting.
            PluginError::Failed(m) if m.contains("concurrent limit") => PluginError::Failed(
                format!("cannot instantiate: {m} (raise `runtime.max_instances`)"),
            ),
            PluginError::Failed(m) => PluginError::Failed(format!("cannot instantiate: {m}")),
            other => other,
        })
    }
}

fn init_failed(e: PluginError) -> PluginError {
    match e {
        PluginError::Returned(m) => PluginError::Returned(format!("setup refused its config: {m}")),
        PluginError::Failed(m) => PluginError::Failed(format!("setup {m}")),
        PluginError::Interrupted(m) => PluginError::Interrupted(format!("setup {m}")),
    }
}

/// Defines a running plugin of one world: its sandbox, its bindings, and
/// `start`, which instantiates it from its template and calls `setup` (`init` in 0.1.0).
macro_rules! plugin_instance {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $bindings:ty, $world:literal,
     |$b:ident, $s:ident, $config:ident, $resume:ident| $init:expr) => {
        $(#[$doc])*
        pub struct $name {
            sandbox: Sandbox,
            bindings: $bindings,
        }

        impl $name {
            pub fn start(
                engine: &Engine,
                plugin: &LoadedPlugin,
                log: Arc<PluginLog>,
                limits: PluginLimits,
                capabilities: &Capabilities,
                config: &Vec<(String, String)>,
                resume: Option<&Vec<u8>>,
            ) -> Result<Self, PluginError> {
                Self::start_with(engine, plugin, log, limits, capabilities, config, resume, None, None, None)
            }

            /// As `start`, with an interrupt that lets blocking waits go, the
            /// schema registry its `schema-registry` import asks, and what
            /// its call time and memory are added to.
            #[allow(clippy::too_many_arguments)]
            pub fn start_with(
                engine: &Engine,
                plugin: &LoadedPlugin,
                log: Arc<PluginLog>,
                limits: PluginLimits,
                capabilities: &Capabilities,
                config: &Vec<(String, String)>,
                resume: Option<&Vec<u8>>,
                interrupt: Option<Arc<Interrupt>>,
                registry: Option<Arc<SchemaRegistry>>,
                usage: Option<Arc<Usage>>,
            ) -> Result<Self, PluginError> {
                let Template::$variant(pre) = &plugin.template else {
                    return Err(PluginError::Failed(format!(
                        "{} is a {} plugin, not a {}",
                        plugin.path.display(),
                        plugin.world,
                        $world
                    )));
                };
                let mut sandbox = Sandbox::new(engine, log, limits, capabilities, interrupt, registry, usage)?;
                let bindings = sandbox.instantiate(|s| pre.instantiate(s))?;
                let $b = &bindings;
                let $config = config;
                let $resume = resume;
                sandbox
                    .call(|$s| $init)
                    .map_err(init_failed)?;
                Ok(Self { sandbox, bindings })
            }

            /// The largest linear memory this instance has had, in bytes.
            pub fn peak_memory(&self) -> usize {
                self.sandbox.store.data().limiter.peak
            }
        }
    };
}

plugin_instance!(
    /// A running source plugin.
    SourceInstance, Source, SourceBindings, "source",
    |b, s, config, resume| b.call_setup(s, config, resume)
);
plugin_instance!(
    /// A running transform plugin.
    TransformInstance, Transform, TransformBindings, "transform",
    |b, s, config, _resume| b.call_setup(s, config)
);
plugin_instance!(
    /// A running partitioner plugin.
    PartitionerInstance, Partitioner, PartitionerBindings, "partitioner",
    |b, s, config, _resume| b.call_setup(s, config)
);

impl SourceInstance {
    /// Asks for at most `max_records` records and about `max_bytes` bytes
    /// (a source built against 0.1.0 is told the record count only).
    pub fn poll(&mut self, max_records: u32, max_bytes: u64) -> Result<PollResult, PluginError> {
        let b = &self.bindings;
        self.sandbox
            .call(|s| b.call_poll(s, max_records, max_bytes))
    }

    /// Whether the source is told a byte budget, and so held to it.
    pub fn takes_byte_budget(&self) -> bool {
        self.bindings.takes_byte_budget()
    }

    pub fn on_delivery(&mut self, report: &DeliveryReport) -> Result<(), PluginError> {
        let b = &self.bindings;
        self.sandbox.call(|s| b.call_on_delivery(s, report).map(Ok))
    }
}

impl TransformInstance {
    pub fn process(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>, PluginError> {
        let b = &self.bindings;
        self.sandbox.call(|s| b.call_process(s, batch))
    }
}

impl PartitionerInstance {
    pub fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        batch: &Vec<u8>,
    ) -> Result<Vec<u32>, PluginError> {
        let b = &self.bindings;
        self.sandbox
            .call(|s| b.call_partition(s, topic, partition_count, batch))
    }
}
