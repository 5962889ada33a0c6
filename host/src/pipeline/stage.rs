//! A pipeline stage: one plugin instance that is replaced when it fails,
//! after an exponential backoff, while the rest of the host keeps running.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;

use super::stop::Stop;
use crate::config::{Capabilities, PluginLimits};
use crate::plugin::{
    LoadedPlugin, PartitionerInstance, PluginError, SourceInstance, TransformInstance,
};
use crate::stats::PluginStats;

/// Everything needed to (re)start one plugin.
#[derive(Clone)]
pub struct PluginSpec {
    pub name: Arc<str>,
    pub plugin: Arc<LoadedPlugin>,
    pub limits: PluginLimits,
    pub settings: Vec<(String, String)>,
    pub capabilities: Capabilities,
    pub stats: Arc<PluginStats>,
}

/// How long to wait before restarting a failed plugin.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

pub trait Startable: Sized {
    fn start(engine: &Engine, spec: &PluginSpec) -> Result<Self, PluginError>;
}

macro_rules! startable {
    ($($t:ty),*) => {$(
        impl Startable for $t {
            fn start(engine: &Engine, spec: &PluginSpec) -> Result<Self, PluginError> {
                <$t>::start(
                    engine,
                    &spec.plugin,
                    spec.name.clone(),
                    spec.limits,
                    &spec.capabilities,
                    &spec.settings,
                )
            }
        }
    )*};
}
startable!(SourceInstance, TransformInstance, PartitionerInstance);

pub struct Stage<I> {
    pub spec: PluginSpec,
    instance: Option<I>,
    backoff: Backoff,
    next_delay: Duration,
}

impl<I: Startable> Stage<I> {
    pub fn new(spec: PluginSpec, backoff: Backoff) -> Self {
        Self {
            spec,
            instance: None,
            backoff,
            next_delay: backoff.initial,
        }
    }

    /// The live instance, starting one if there is none. A failed start is
    /// logged and retried after the backoff. `None` once `stop` is raised
    /// and no instance could be had.
    pub fn get(&mut self, engine: &Engine, stop: &Stop) -> Option<&mut I> {
        while self.instance.is_none() {
            match I::start(engine, &self.spec) {
                Ok(i) => self.instance = Some(i),
                Err(e) => {
                    if self.fail(&e, stop) {
                        return None;
                    }
                }
            }
        }
        self.instance.as_mut()
    }

    /// A call succeeded: the next failure starts the backoff afresh.
    pub fn healthy(&mut self) {
        self.next_delay = self.backoff.initial;
    }

    /// Drops the instance after a failure, logs the cause and waits out the
    /// backoff. Returns true if `stop` was raised meanwhile.
    pub fn fail(&mut self, error: &PluginError, stop: &Stop) -> bool {
        self.instance = None;
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(self.backoff.max);
        PluginStats::add(&self.spec.stats.restarts, 1);
        tracing::error!(
            plugin = &*self.spec.name,
            "plugin failed: {error}; restarting in {} ms",
            delay.as_millis()
        );
        stop.sleep(delay)
    }
}
