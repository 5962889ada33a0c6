//! A pipeline stage: one plugin instance that is replaced when it fails,
//! after an exponential backoff, while the rest of the host keeps running.
//! A plugin that keeps failing is given up on: failures are counted on a
//! clock of running time, which stands still while a backoff is waited out,
//! so a backoff that grows cannot spread them beyond the window. One whose
//! `setup` refuses its config is given up on at once: starting it again
//! would be refused again.
//! Also where a new version of the plugin takes over (hot swap): it is
//! started beside the old instance, serves on trial until its first call
//! succeeds, and is rolled back if that call fails.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasmtime::Engine;

use super::stop::Stop;
use crate::config::{Capabilities, PluginLimits};
use crate::format::registry::SchemaRegistry;
use crate::plugin::{
    Interrupt, LoadedPlugin, PartitionerInstance, PluginError, SourceInstance, TransformInstance,
};
use crate::stats::{Activity, PluginStats};

/// Everything needed to (re)start one plugin.
#[derive(Clone)]
pub struct PluginSpec {
    pub name: Arc<str>,
    pub plugin: Arc<LoadedPlugin>,
    pub limits: PluginLimits,
    pub settings: Vec<(String, String)>,
    pub capabilities: Capabilities,
    pub stats: Arc<PluginStats>,
    /// What the plugin's `schema-registry` import asks, if configured.
    pub registry: Option<Arc<SchemaRegistry>>,
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
    /// `resume` is a source's last checkpoint (ignored by other worlds).
    fn start(
        engine: &Engine,
        spec: &PluginSpec,
        resume: Option<&Vec<u8>>,
        interrupt: &Arc<Interrupt>,
    ) -> Result<Self, PluginError>;
}

macro_rules! startable {
    ($($t:ty),*) => {$(
        impl Startable for $t {
            fn start(
                engine: &Engine,
                spec: &PluginSpec,
                resume: Option<&Vec<u8>>,
                interrupt: &Arc<Interrupt>,
            ) -> Result<Self, PluginError> {
                <$t>::start_with(
                    engine,
                    &spec.plugin,
                    spec.stats.log().clone(),
                    spec.limits,
                    &spec.capabilities,
                    &spec.settings,
                    resume,
                    Some(interrupt.clone()),
                    spec.registry.clone(),
                    Some(spec.stats.usage().clone()),
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
    /// When recent failures happened on the running clock (see
    /// [`Stage::running_time`]), oldest first, within the window.
    failures: VecDeque<Duration>,
    /// When the stage began, and how long it has waited out backoffs since.
    born: Instant,
    waited: Duration,
    /// Why the plugin was given up on, once it was.
    gave_up: Option<String>,
    /// A source's latest checkpoint: where the next instance resumes.
    checkpoint: Option<Vec<u8>>,
    /// A new version serving on trial, and what to roll back to.
    trial: Option<Trial>,
    /// Lets go of the instance's blocking waits (stop, drain, swap).
    interrupt: Arc<Interrupt>,
    /// The instance was let go of because the pipeline is stopping: no
    /// new one is started.
    let_go: bool,
}

struct Trial {
    previous: PluginSpec,
    requested: Instant,
}

impl<I: Startable> Stage<I> {
    pub fn new(spec: PluginSpec, backoff: Backoff, interrupt: Arc<Interrupt>) -> Self {
        Self {
            spec,
            instance: None,
            backoff,
            next_delay: backoff.initial,
            failures: VecDeque::new(),
            born: Instant::now(),
            waited: Duration::ZERO,
            gave_up: None,
            checkpoint: None,
            trial: None,
            interrupt,
            let_go: false,
        }
    }

    pub fn checkpoint(&self) -> Option<Vec<u8>> {
        self.checkpoint.clone()
    }

    /// Records a source's position after a batch it handed over.
    pub fn set_checkpoint(&mut self, checkpoint: Vec<u8>) {
        self.checkpoint = Some(checkpoint);
    }

    /// Goes back to `checkpoint` (an exactly-once source whose transaction
    /// was aborted): the instance is dropped, and the next one resumes there.
    pub fn rewind(&mut self, checkpoint: Option<Vec<u8>>) {
        self.instance = None;
        self.checkpoint = checkpoint;
    }

    /// Starts `spec` (a new file, or new settings) as the new version of this
    /// stage, to take over now, at
    /// a batch boundary. If it cannot start (its `init` fails), the old
    /// instance keeps running and the refusal is recorded. `requested` is
    /// when the new file was seen, for the swap latency.
    pub fn swap(&mut self, engine: &Engine, mut spec: PluginSpec, requested: Instant) {
        // The counters carry on across versions.
        spec.stats = self.spec.stats.clone();
        let name = &*self.spec.name;
        match I::start(engine, &spec, self.checkpoint.as_ref(), &self.interrupt) {
            Ok(instance) => {
                tracing::info!(
                    plugin = name,
                    sha256 = short(&spec.plugin.hash),
                    "new version started; on trial until its first call succeeds"
                );
                let replaced = std::mem::replace(&mut self.spec, spec);
                // A version still on trial was never confirmed: a rollback
                // goes to the last one that served.
                let previous = self.trial.take().map_or(replaced, |t| t.previous);
                self.instance = Some(instance);
                self.trial = Some(Trial {
                    previous,
                    requested,
                });
            }
            Err(e) => self.refuse(&spec.plugin.hash, &format!("it failed to start: {e}")),
        }
    }

    fn refuse(&self, hash: &str, cause: &str) {
        tracing::error!(
            plugin = &*self.spec.name,
            sha256 = short(hash),
            "swap refused, {} stays live: {cause}",
            short(&self.spec.plugin.hash)
        );
        self.spec.stats.swap_refused(hash, cause);
    }

    /// The live instance, starting one if there is none. A failed start is
    /// logged and retried after the backoff. `None` once `stop` is raised
    /// and no instance could be had, or once the plugin has been given up on.
    pub fn get(&mut self, engine: &Engine, stop: &Stop) -> Option<&mut I> {
        while self.instance.is_none() {
            if self.gave_up() || self.let_go {
                return None;
            }
            match I::start(
                engine,
                &self.spec,
                self.checkpoint.as_ref(),
                &self.interrupt,
            ) {
                Ok(i) => self.instance = Some(i),
                Err(PluginError::Returned(refusal)) => {
                    self.give_up(format!(
                        "{refusal}; not restarted: it would refuse again (fix its config)"
                    ));
                    return None;
                }
                Err(e) => {
                    if self.fail(&e, stop) {
                        return None;
                    }
                }
            }
        }
        self.instance.as_mut()
    }

    /// A call succeeded: the next failure starts the backoff afresh, and a
    /// version on trial is live for good.
    pub fn healthy(&mut self) {
        self.next_delay = self.backoff.initial;
        self.spec.stats.set_activity(Activity::Running);
        if let Some(trial) = self.trial.take() {
            let latency = trial.requested.elapsed();
            tracing::info!(
                plugin = &*self.spec.name,
                sha256 = short(&self.spec.plugin.hash),
                "swapped: {} replaced {} ({} ms after the file changed)",
                short(&self.spec.plugin.hash),
                short(&trial.previous.plugin.hash),
                latency.as_millis()
            );
            self.spec
                .stats
                .swapped(&self.spec.plugin.hash, &trial.previous.plugin.hash, latency);
        }
    }

    /// Whether the plugin failed too often to be restarted again, or
    /// refused its config.
    pub fn gave_up(&self) -> bool {
        self.gave_up.is_some()
    }

    /// Why the plugin was given up on, once it was.
    pub fn gave_up_cause(&self) -> &str {
        self.gave_up.as_deref().unwrap_or("")
    }

    fn give_up(&mut self, cause: String) {
        tracing::error!(plugin = &*self.spec.name, "plugin given up on: {cause}");
        self.spec.stats.error(&cause);
        self.spec.stats.gave_up.store(true, Ordering::Relaxed);
        self.gave_up = Some(cause);
    }

    /// Time since the stage began, less the backoffs waited out: the clock
    /// failures are counted on.
    fn running_time(&self) -> Duration {
        self.born.elapsed().saturating_sub(self.waited)
    }

    /// Drops the instance after a failure, logs the cause and waits out the
    /// backoff. Returns true if the pipeline should stop: `stop` was raised
    /// meanwhile, or this failure used up the plugin's restarts.
    pub fn fail(&mut self, error: &PluginError, stop: &Stop) -> bool {
        self.instance = None;
        // Let go of to stop or swap: not a failure, nothing to wait out.
        if let PluginError::Interrupted(why) = error {
            self.let_go = self.interrupt.is_stopping();
            tracing::info!(plugin = &*self.spec.name, "{why}");
            return stop.is_raised();
        }
        // A new version that fails its first call is rolled back at once: the
        // old version takes the same batch (or poll) again, so nothing is lost.
        if let Some(trial) = self.trial.take() {
            let failed = std::mem::replace(&mut self.spec, trial.previous);
            self.refuse(
                &failed.plugin.hash,
                &format!("it failed on its first call: {error}"),
            );
            return stop.is_raised();
        }
        self.spec.stats.error(&error.to_string());
        let now = self.running_time();
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > self.backoff.window)
        {
            self.failures.pop_front();
        }
        if self.failures.len() > self.backoff.max_restarts as usize {
            self.give_up(format!(
                "plugin failed: {error}; giving up after {} failures within {} of running time (runtime.max_restarts = {}; backoffs not counted)",
                self.failures.len(),
                seconds_or_ms(self.backoff.window),
                self.backoff.max_restarts
            ));
            return true;
        }
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(self.backoff.max);
        PluginStats::add(&self.spec.stats.restarts, 1);
        tracing::error!(
            plugin = &*self.spec.name,
            "plugin failed: {error}; restarting in {} ms",
            delay.as_millis()
        );
        self.spec.stats.set_activity(Activity::BackingOff);
        let stopped = stop.sleep(delay);
        self.waited += delay;
        stopped
    }
}

/// `60 s`, or `300 ms` for a window under whole seconds.
fn seconds_or_ms(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The first 12 hex digits of a sha256, as logs show it.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
