//! A pipeline stage: one plugin instance that is replaced when it fails,
//! after an exponential backoff, while the rest of the host keeps running.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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

/// When and how often a failed plugin is restarted.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Restarts allowed within `window`; one more failure and the plugin is
    /// given up on.
    pub max_restarts: u32,
    pub window: Duration,
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
    /// When recent failures happened, oldest first, within the window.
    failures: VecDeque<Instant>,
    gave_up: bool,
}

impl<I: Startable> Stage<I> {
    pub fn new(spec: PluginSpec, backoff: Backoff) -> Self {
        Self {
            spec,
            instance: None,
            backoff,
            next_delay: backoff.initial,
            failures: VecDeque::new(),
            gave_up: false,
        }
    }

    /// The live instance, starting one if there is none. A failed start is
    /// logged and retried after the backoff. `None` once `stop` is raised
    /// and no instance could be had, or once the plugin has been given up on.
    pub fn get(&mut self, engine: &Engine, stop: &Stop) -> Option<&mut I> {
        while self.instance.is_none() {
            if self.gave_up() {
                return None;
            }
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

    /// Whether the plugin failed too often to be restarted again.
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// Drops the instance after a failure, logs the cause and waits out the
    /// backoff. Returns true if the pipeline should stop: `stop` was raised
    /// meanwhile, or this failure used up the plugin's restarts.
    pub fn fail(&mut self, error: &PluginError, stop: &Stop) -> bool {
        self.instance = None;
        let now = Instant::now();
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.backoff.window)
        {
            self.failures.pop_front();
        }
        let name = &*self.spec.name;
        if self.failures.len() > self.backoff.max_restarts as usize {
            self.gave_up = true;
            self.spec.stats.gave_up.store(true, Ordering::Relaxed);
            tracing::error!(
                plugin = name,
                "plugin failed: {error}; giving up after {} failures within {} s (runtime.max_restarts = {})",
                self.failures.len(),
                self.backoff.window.as_secs(),
                self.backoff.max_restarts
            );
            return true;
        }
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(self.backoff.max);
        PluginStats::add(&self.spec.stats.restarts, 1);
        tracing::error!(
            plugin = name,
            "plugin failed: {error}; restarting in {} ms",
            delay.as_millis()
        );
        stop.sleep(delay)
    }
}
