//! The supervisor: the one owner of which pipelines run.
//!
//! Every caller that changes what runs goes through it: the startup, a
//! config reload, an operator pausing or resuming a source, and (in a
//! cluster) sources being assigned to or revoked from this host. Each caller
//! changes one input of the desired state:
//!
//! ```text
//! desired = sources of the config ∩ sources assigned to this host
//!           − paused − ended (finished, or given up, since their last change)
//! ```
//!
//! and [`Supervisor::reconcile`] brings the running pipelines to it with the
//! two operations every caller shares: drain-and-commit (stop at a batch
//! boundary, wait for the records in flight, commit the checkpoint, release
//! what the source held) and start (fence a crashed exactly-once instance,
//! read the committed checkpoint, start from it).
//!
//! Methods take `&self` and serialise on one lock, so that callers on other
//! threads (a rebalance callback, an HTTP handler through `spawn_blocking`)
//! see each change whole. A drain waits for Kafka, so callers must not hold
//! an async executor thread while they call.

mod handle;
mod launch;
mod membership;
mod resources;
mod resume;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::config::Config;
use crate::config::diff::Plan;
use crate::pipeline::SwapRequest;
use crate::plugin::{LoadedPlugin, World};
use crate::producer::RecordSink;
use crate::producer::topics::{self, Topics};
use crate::stats::{Activity, PluginSummary, Summary};
pub use handle::PipelineHandle;
pub use membership::ClusterView;
pub use resources::Resources;

/// Loaded plugins by name: the version each new pipeline starts with.
pub type Plugins = HashMap<String, Arc<LoadedPlugin>>;

pub struct Supervisor {
    resources: Resources,
    state: Mutex<State>,
    /// Each running source's record sink, for its records in flight: read
    /// without the state's lock, which a drain holds while it waits.
    sinks: Mutex<BTreeMap<String, Weak<RecordSink>>>,
    membership: membership::Membership,
}

struct State {
    config: Config,
    plugins: Plugins,
    running: BTreeMap<String, PipelineHandle>,
    /// Sources whose pipeline ended by itself (finished, or given up on):
    /// not started again unless a reload reshapes them.
    ended: BTreeSet<String>,
    /// Sources an operator paused.
    paused: BTreeSet<String>,
    /// `None`: this host runs every source of its config. In a cluster, the
    /// sources assigned to this host.
    assigned: Option<BTreeSet<String>>,
    /// The checkpoint each drained pipeline stopped at, for its next start.
    drained: HashMap<String, Option<Vec<u8>>>,
}

/// What a plugin is doing, for operators. A transform or partitioner is
/// `running`, `backing_off`, `given_up` or (when no running pipeline uses
/// it) `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Running,
    /// Its last poll said it had nothing to give; it waits to poll again.
    Idle,
    /// It failed and waits out the restart backoff.
    BackingOff,
    Paused,
    /// Stopped for good after failing repeatedly, or refusing its config.
    GivenUp,
    Finished,
    /// In a cluster: another host runs it.
    NotAssigned,
    Stopped,
}

impl SourceState {
    /// The name the API and the status lines show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Idle => "idle",
            Self::BackingOff => "backing_off",
            Self::Paused => "paused",
            Self::GivenUp => "given_up",
            Self::Finished => "finished",
            Self::NotAssigned => "not_assigned",
            Self::Stopped => "stopped",
        }
    }

    /// A live pipeline's plugin, by what the pipeline last said.
    fn live(activity: Option<Activity>) -> Self {
        match activity {
            Some(Activity::Idle) => Self::Idle,
            Some(Activity::BackingOff) => Self::BackingOff,
            _ => Self::Running,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceStatus {
    pub state: SourceState,
    pub in_flight_records: u64,
    pub in_flight_bytes: u64,
}

/// Why a running pipeline is being drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Removed,
    Reshaped,
    Paused,
    Revoked,
}

impl State {
    fn desired(&self) -> BTreeSet<String> {
        self.config
            .sources
            .iter()
            .map(|s| s.name.get_ref())
            .filter(|n| self.assigned.as_ref().is_none_or(|a| a.contains(*n)))
            .filter(|n| !self.paused.contains(*n) && !self.ended.contains(*n))
            .cloned()
            .collect()
    }

    fn why_stopping(&self, name: &str, reshaped: &[String]) -> Option<Why> {
        if self.config.source(name).is_none() {
            Some(Why::Removed)
        } else if self.assigned.as_ref().is_some_and(|a| !a.contains(name)) {
            Some(Why::Revoked)
        } else if self.paused.contains(name) {
            Some(Why::Paused)
        } else if reshaped.iter().any(|r| r == name) {
            Some(Why::Reshaped)
        } else {
            None
        }
    }
}

impl Supervisor {
    /// A supervisor for `config`, running nothing yet.
    pub fn new(config: Config, plugins: Plugins, resources: Resources) -> Self {
        Self {
            resources,
            state: Mutex::new(State {
                config,
                plugins,
                running: BTreeMap::new(),
                ended: BTreeSet::new(),
                paused: BTreeSet::new(),
                assigned: None,
                drained: HashMap::new(),
            }),
            sinks: Mutex::new(BTreeMap::new()),
            membership: membership::Membership::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts every source the config names. Returns how many run.
    pub fn start(&self) -> Result<usize> {
        let mut st = self.state();
        self.reconcile(&mut st, &[])?;
        Ok(st.running.len())
    }

    /// Applies a reloaded config: `plan` says what differs from the running
    /// one, `plugins` holds every plugin `new` names, loaded and checked.
    /// Topics are created first, so that a config that cannot be applied
    /// changes nothing.
    pub fn apply_config(&self, new: Config, plugins: Plugins, plan: &Plan) -> Result<()> {
        self.resources.topics.ensure(&topics::specs(&new))?;
        let mut st = self.state();
        for name in &plan.remove {
            st.ended.remove(name);
            st.paused.remove(name);
        }
        // A reshaped source starts again, even one that had finished.
        for name in &plan.restart {
            st.ended.remove(name);
        }
        st.config = new;
        st.plugins = plugins;
        self.reconcile(&mut st, &plan.restart)?;
        for plugin in &plan.respec {
            self.swap_locked(&st, plugin, Instant::now());
        }
        for name in &plan.source_quotas {
            if let (Some(p), Some(s)) = (st.running.get(name), st.config.source(name)) {
                p.quota.set(&s.quota);
            }
        }
        for name in &plan.tenant_quotas {
            if let Some(t) = st.config.tenant(name) {
                self.resources.set_tenant_quota(name, &t.quota);
            }
        }
        Ok(())
    }

    /// Swaps a new version of plugin `name` into every pipeline that runs
    /// it, at their next batch boundary. `requested` is when the change was
    /// seen, for the swap latency.
    pub fn swap_plugin(&self, name: &str, plugin: Arc<LoadedPlugin>, requested: Instant) {
        let mut st = self.state();
        st.plugins.insert(name.to_string(), plugin);
        self.swap_locked(&st, name, requested);
    }

    fn swap_locked(&self, st: &State, name: &str, requested: Instant) {
        let Some(plugin) = st.plugins.get(name) else {
            return;
        };
        let Some(spec) = launch::plugin_spec(&self.resources, &st.config, name, plugin.clone())
        else {
            return;
        };
        for p in st.running.values().filter(|p| p.runs(name)) {
            p.swaps.push(SwapRequest {
                spec: spec.clone(),
                requested,
            });
        }
    }

    /// Records a new version of plugin `name` that was refused.
    pub fn refuse_swap(&self, name: &str, world: World, hash: &str, cause: &str) {
        self.resources
            .stats()
            .register(name, world, hash, None)
            .swap_refused(hash, cause);
    }

    /// Records a config reload that was refused.
    pub fn refuse_config(&self, cause: &str) {
        self.resources.stats().config_refused(cause);
    }

    /// Stops source `name` at a batch boundary, delivers its records in
    /// flight and commits its checkpoint; it stays stopped until resumed.
    pub fn pause(&self, name: &str) -> Result<()> {
        let mut st = self.state();
        if st.config.source(name).is_none() {
            bail!("no source is named `{name}`");
        }
        if st.paused.insert(name.to_string()) {
            self.reconcile(&mut st, &[])?;
        }
        Ok(())
    }

    /// Starts a paused source again from the checkpoint it stopped at.
    pub fn resume(&self, name: &str) -> Result<()> {
        let mut st = self.state();
        if st.config.source(name).is_none() {
            bail!("no source is named `{name}`");
        }
        if st.paused.remove(name) {
            self.reconcile(&mut st, &[])?;
        }
        Ok(())
    }

    /// In a cluster: this host (`host_id` in `group`) runs only the
    /// sources assigned to it (none until the first assignment).
    pub fn join_cluster(&self, group: &str, host_id: &str) -> Result<()> {
        self.membership.join(group, host_id);
        self.set_assigned(BTreeSet::new())
    }

    /// In a cluster: the group moved partitions to or from this host.
    pub fn rebalanced(&self) {
        self.membership.rebalanced();
    }

    /// This host's part in its cluster now; `None` outside one.
    pub fn cluster(&self) -> Option<ClusterView> {
        self.membership.view()
    }

    /// In a cluster: the sources assigned to this host now. Those no longer
    /// assigned are drained and committed before this returns, so that
    /// their next owner resumes where they stopped; newly assigned ones
    /// start from their committed checkpoints.
    pub fn set_assigned(&self, names: BTreeSet<String>) -> Result<()> {
        self.membership.assigned(&names);
        let mut st = self.state();
        st.assigned = Some(names);
        self.reconcile(&mut st, &[])
    }

    /// The config the pipelines run with now (it changes on reload).
    pub fn config(&self) -> Config {
        self.state().config.clone()
    }

    /// The sha256 of each loaded plugin file, by plugin name.
    pub fn plugin_hashes(&self) -> BTreeMap<String, String> {
        self.state()
            .plugins
            .iter()
            .map(|(n, p)| (n.clone(), p.hash.clone()))
            .collect()
    }

    /// The topics of the run, created when missing.
    pub fn topics(&self) -> &Topics {
        &self.resources.topics
    }

    /// Every plugin's counters now. Takes only the counters' lock, never
    /// the supervisor's, so it does not wait for a drain.
    pub fn plugin_counters(&self) -> BTreeMap<String, PluginSummary> {
        self.resources.stats().plugins()
    }

    /// Whether a broker answers a metadata request within `timeout`.
    pub fn check_broker(&self, timeout: Duration) -> Result<()> {
        self.resources
            .producer
            .client()
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("no broker answered within {timeout:?}: {e}"))
    }

    /// The shared producer's latest librdkafka statistics, if sampled.
    pub fn kafka_stats(&self) -> Option<crate::producer::statistics::KafkaStats> {
        self.resources.producer.client().context().statistics.get()
    }

    /// Records and bytes each source has in flight now (handed to the
    /// producer, not yet reported). Never waits for a drain.
    pub fn in_flight(&self) -> BTreeMap<String, (u64, u64)> {
        self.sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, sink)| {
                let now = sink
                    .upgrade()
                    .map_or((0, 0), |s| (s.in_flight.records(), s.in_flight.bytes()));
                (name.clone(), now)
            })
            .collect()
    }

    /// Every source's checkpoint commits so far (none without `[checkpoints]`).
    pub fn checkpoint_commits(&self) -> HashMap<String, crate::checkpoint::Commits> {
        self.resources.checkpoint_commits()
    }

    /// Records in the shared producer's window now (all sources).
    pub fn window_records(&self) -> u64 {
        self.resources.admission.records()
    }

    /// What each source of the config is doing now, and what it has in
    /// flight. Waits while a drain is under way.
    pub fn sources(&self) -> BTreeMap<String, SourceStatus> {
        let st = self.state();
        let counters = self.plugin_counters();
        let activities = self.resources.stats().activities();
        let gave_up = |name: &str| counters.get(name).is_some_and(|p| p.gave_up);
        st.config
            .sources
            .iter()
            .map(|s| {
                let name = s.name.get_ref();
                let running = st.running.get(name);
                let state = match running {
                    Some(p) if !p.is_finished() => SourceState::live(activities.get(name).copied()),
                    _ if st.paused.contains(name) => SourceState::Paused,
                    _ if gave_up(name) => SourceState::GivenUp,
                    Some(_) => SourceState::Finished,
                    None if st.ended.contains(name) => SourceState::Finished,
                    None if st.assigned.as_ref().is_some_and(|a| !a.contains(name)) => {
                        SourceState::NotAssigned
                    }
                    None => SourceState::Stopped,
                };
                let (records, bytes) = running.map_or((0, 0), |p| p.in_flight());
                let status = SourceStatus {
                    state,
                    in_flight_records: records,
                    in_flight_bytes: bytes,
                };
                (name.clone(), status)
            })
            .collect()
    }

    /// What every plugin is doing now: a source as in [`Self::sources`]; a
    /// transform or partitioner given up on, or else as the running
    /// pipelines that use it last said, or stopped if none does.
    pub fn plugin_states(&self) -> BTreeMap<String, SourceState> {
        let mut states: BTreeMap<String, SourceState> = self
            .sources()
            .into_iter()
            .map(|(n, s)| (n, s.state))
            .collect();
        let activities = self.resources.stats().activities();
        let counters = self.plugin_counters();
        let st = self.state();
        for (name, p) in counters.iter().filter(|(_, p)| p.world != World::Source) {
            let used = st
                .running
                .values()
                .any(|r| r.runs(name) && !r.is_finished());
            let state = if p.gave_up {
                SourceState::GivenUp
            } else if used {
                SourceState::live(activities.get(name).copied())
            } else {
                SourceState::Stopped
            };
            states.insert(name.clone(), state);
        }
        states
    }

    /// The sources whose pipelines run now.
    pub fn running(&self) -> BTreeSet<String> {
        self.state().running.keys().cloned().collect()
    }

    /// Notices pipelines that ended by themselves. False once nothing runs
    /// and nothing can run again without an outside change (every source
    /// finished or was given up on, none is paused, and this host is not in
    /// a cluster).
    pub fn is_active(&self) -> bool {
        let mut st = self.state();
        let ended: Vec<String> = st
            .running
            .iter()
            .filter(|(_, p)| p.is_finished())
            .map(|(n, _)| n.clone())
            .collect();
        for name in ended {
            if let Some(p) = st.running.remove(&name) {
                p.join();
            }
            st.ended.insert(name);
        }
        !st.running.is_empty() || !st.paused.is_empty() || st.assigned.is_some()
    }

    /// Stops every pipeline, delivers everything in flight (dead letters
    /// too), commits the final checkpoints and returns the run's summary.
    pub fn shutdown(self, embedded_cluster: bool, started: Instant) -> Summary {
        let running = std::mem::take(&mut self.state().running);
        for p in running.values() {
            p.raise_stop();
        }
        for (_, p) in running {
            p.join();
        }
        self.resources.finish(embedded_cluster, started)
    }

    /// Brings the running pipelines to the desired state: drains those that
    /// must stop (or restart), then starts those that should run.
    fn reconcile(&self, st: &mut State, reshaped: &[String]) -> Result<()> {
        let stopping: Vec<(String, Why)> = st
            .running
            .keys()
            .filter_map(|n| st.why_stopping(n, reshaped).map(|w| (n.clone(), w)))
            .collect();
        self.drain(st, &stopping);
        let starting: Vec<String> = st
            .desired()
            .into_iter()
            .filter(|n| !st.running.contains_key(n))
            .collect();
        self.start_all(st, &starting)
    }

    /// Drain and commit, for every pipeline at once: each stops at its next
    /// batch boundary, then each is waited for.
    fn drain(&self, st: &mut State, stopping: &[(String, Why)]) {
        let handles: Vec<(String, Why, PipelineHandle)> = stopping
            .iter()
            .filter_map(|(n, why)| st.running.remove(n).map(|p| (n.clone(), *why, p)))
            .collect();
        for (_, _, p) in &handles {
            p.raise_stop();
        }
        let deadline = Instant::now() + self.resources.message_timeout + Duration::from_secs(5);
        for (name, why, p) in handles {
            let checkpoint = p.drain(deadline);
            self.resources.commit_final(&name);
            let plugin = name.as_str();
            match why {
                Why::Removed | Why::Revoked => {
                    self.resources.release(&name);
                    st.drained.remove(&name);
                }
                Why::Reshaped | Why::Paused => {
                    st.drained.insert(name.clone(), checkpoint);
                }
            }
            match why {
                Why::Removed => tracing::info!(plugin, "source removed; its records were flushed"),
                Why::Revoked => tracing::info!(
                    plugin,
                    "source moved to another host; its records were flushed and its checkpoint committed"
                ),
                Why::Paused => tracing::info!(
                    plugin,
                    "source paused; its records were flushed and its checkpoint committed"
                ),
                Why::Reshaped => tracing::info!(plugin, "source drained, to start again reshaped"),
            }
        }
    }

    /// Starts sources: each from the checkpoint its last pipeline here
    /// drained at, or else from its committed one.
    fn start_all(&self, st: &mut State, names: &[String]) -> Result<()> {
        let unknown: Vec<&str> = names
            .iter()
            .filter(|n| !st.drained.contains_key(*n))
            .map(String::as_str)
            .collect();
        let mut committed = self.resources.committed_checkpoints(&st.config, &unknown)?;
        for name in names {
            let Some(source) = st.config.source(name) else {
                continue;
            };
            let resume = match st.drained.remove(name) {
                Some(taken_over) => taken_over,
                None => {
                    let stored = committed.remove(name);
                    if stored.is_some() {
                        tracing::info!(
                            plugin = name.as_str(),
                            "resuming from its last committed checkpoint"
                        );
                    }
                    stored
                }
            };
            let pipeline = launch::start(&self.resources, &st.config, &st.plugins, source, resume)?;
            self.sinks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone(), Arc::downgrade(&pipeline.sink));
            st.running.insert(name.clone(), pipeline);
        }
        Ok(())
    }
}
