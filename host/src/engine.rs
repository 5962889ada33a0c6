//! The one wasmtime engine every plugin runs on, and the epoch ticker that
//! gives each call its CPU deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// One epoch tick. A call's deadline is counted in ticks, so CPU limits are
/// precise to about this much.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How many plugin instances the pooling allocator reserves slots for,
/// unless `runtime.max_instances` says otherwise.
pub const POOLED_INSTANCES: u32 = 1_000;

/// Builds the engine. `pooling` pre-reserves instance slots: instantiation
/// then costs ~15-20 µs instead of ~30 µs, at the price of address space.
pub fn build(pooling: bool) -> Result<Engine> {
    build_with(pooling.then_some(POOLED_INSTANCES))
}

/// Builds the engine, with a pool of `slots` instances if given.
pub fn build_with(pool_slots: Option<u32>) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // The concurrent (component-model async) call path costs ~1.1 µs per
    // call instead of ~0.22 µs, and plugins do not need it.
    config.concurrency_support(false);
    config.epoch_interruption(true);
    if let Some(slots) = pool_slots {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots);
        // A Rust component has ~3 core instances, componentize-py's ~14.
        pool.max_core_instances_per_component(32);
        pool.total_core_instances(slots.saturating_mul(4));
        pool.max_memories_per_component(4);
        pool.total_memories(slots.saturating_mul(2));
        pool.max_tables_per_component(8);
        pool.total_tables(slots.saturating_mul(4));
        // Per-plugin memory caps are enforced by each store's limiter; the
        // pool only needs room for the largest one.
        pool.max_memory_size(4 << 30);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config)
        .map_err(|e| anyhow::anyhow!("cannot configure the WebAssembly engine: {e:#}"))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .context("cannot start the epoch ticker thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Ticks a call may run for, given its CPU time limit.
pub fn deadline_ticks(call_timeout_ms: u64) -> u64 {
    // +1: the first tick may come at any moment after the call starts.
    call_timeout_ms
        .div_ceil(EPOCH_TICK.as_millis() as u64)
        .max(1)
        + 1
}
