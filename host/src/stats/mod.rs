//! Per-plugin counters, updated lock-free on the hot path and read for the
//! summary at exit.

mod activity;
mod failure;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

pub use activity::{Activity, LastError};
pub use failure::FailureKind;

use crate::latency::{Latencies, LatencyHistogram};
use crate::plugin::{PluginLog, Usage, World};

/// The counters of one plugin. Sources count what they made and what became
/// of it; transforms count what passed through them.
#[derive(Default)]
pub struct PluginStats {
    name: String,
    /// Records a source returned from `poll`, or a transform received.
    pub records_in: AtomicU64,
    /// Records a transform returned (a source's summary shows its records
    /// made here too).
    pub records_out: AtomicU64,
    /// Records handed to the producer.
    pub produced: AtomicU64,
    /// Records the broker acknowledged.
    pub delivered: AtomicU64,
    /// Records that will never reach Kafka; causes are in `failures`.
    pub failed: AtomicU64,
    /// Payload bytes (key, value, headers) of delivered records.
    pub bytes: AtomicU64,
    pub restarts: AtomicU64,
    /// Errors a plugin returned (it kept running).
    pub errors: AtomicU64,
    /// The plugin was stopped for good: it failed more than
    /// `runtime.max_restarts` times within the window, or refused its config.
    pub gave_up: std::sync::atomic::AtomicBool,
    /// Most records this source ever had in flight at once.
    pub peak_in_flight: AtomicU64,
    /// Failed records written to the tenant's dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Failed records that could not be dead-lettered either.
    pub dead_letter_failed: AtomicU64,
    /// Transactions committed (an exactly-once source).
    pub transactions: AtomicU64,
    /// Records handed over in transactions that were aborted: produced
    /// again from the last committed checkpoint, never visible to
    /// `read_committed` consumers.
    pub aborted: AtomicU64,
    /// Tags and rate-limits the plugin's log lines, and counts those dropped.
    log: std::sync::Arc<PluginLog>,
    /// A source's delivery latency: batch made -> broker acknowledgement.
    pub latency: LatencyHistogram,
    failures: Mutex<BTreeMap<String, u64>>,
    /// Failed records by kind (indexed by [`FailureKind::index`]).
    failure_kinds: [AtomicU64; FailureKind::ALL.len()],
    /// Nanoseconds a source waited on its quota, its in-flight caps, and
    /// its turn in the producer's shared window.
    pub waited_quota_ns: AtomicU64,
    pub waited_caps_ns: AtomicU64,
    pub waited_window_ns: AtomicU64,
    /// Time inside the plugin's calls and its instances' linear memory.
    usage: std::sync::Arc<Usage>,
    /// What its pipeline is doing with it now.
    activity: activity::ActivityCell,
    last_error: Mutex<Option<LastError>>,
    /// Aborted transactions by cause.
    aborts: Mutex<BTreeMap<String, u64>>,
    versions: Mutex<Versions>,
}

/// Which version of the plugin is live, and what became of new versions.
#[derive(Default)]
struct Versions {
    live: String,
    swaps: Vec<Swap>,
    refused: Vec<RefusedSwap>,
}

/// A new version that took over.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Swap {
    pub hash: String,
    pub replaced: String,
    /// Unix time in milliseconds when it served its first call.
    pub at_ms: u64,
    /// From the file change being seen to the new version serving.
    pub latency_ms: f64,
}

/// A new version that was not let in; the old one stayed live.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RefusedSwap {
    pub hash: String,
    pub at_ms: u64,
    pub cause: String,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl PluginStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Records `in_flight` as the peak if it is one.
    pub fn peak(&self, in_flight: u64) {
        if in_flight > self.peak_in_flight.load(Relaxed) {
            self.peak_in_flight.fetch_max(in_flight, Relaxed);
        }
    }

    /// Adds the time since `since` to `counter` (one of the `waited_*`).
    pub fn waited(counter: &AtomicU64, since: std::time::Instant) {
        counter.fetch_add(since.elapsed().as_nanos() as u64, Relaxed);
    }

    /// Counts `n` records as failed, of `kind`, for `cause`; each new cause
    /// is logged once.
    pub fn fail(&self, n: u64, kind: FailureKind, cause: &str) {
        self.failed.fetch_add(n, Relaxed);
        self.failure_kinds[kind.index()].fetch_add(n, Relaxed);
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.get_mut(cause) {
            Some(count) => *count += n,
            None => {
                tracing::error!(plugin = self.name.as_str(), "record failed: {cause}");
                f.insert(cause.to_string(), n);
            }
        }
    }

    /// The plugin's log: every instance of the plugin writes through it.
    pub fn log(&self) -> &std::sync::Arc<PluginLog> {
        &self.log
    }

    pub fn set_activity(&self, a: Activity) {
        self.activity.set(a);
    }

    pub fn activity(&self) -> Activity {
        self.activity.get()
    }

    /// Remembers `message` as the plugin's last error, with the time now.
    pub fn error(&self, message: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastError::now(message));
    }

    /// The plugin returned an error (it keeps running): counted, and kept
    /// as its last error.
    pub fn returned_error(&self, message: &str) {
        self.errors.fetch_add(1, Relaxed);
        self.error(message);
    }

    /// What every instance of the plugin adds its call time and memory to.
    pub fn usage(&self) -> &std::sync::Arc<Usage> {
        &self.usage
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, Versions> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new version took over from `replaced`.
    pub fn swapped(&self, hash: &str, replaced: &str, latency: std::time::Duration) {
        let mut v = self.versions();
        v.live = hash.to_string();
        v.swaps.push(Swap {
            hash: hash.to_string(),
            replaced: replaced.to_string(),
            at_ms: unix_ms(),
            latency_ms: latency.as_secs_f64() * 1000.0,
        });
    }

    /// A new version (`hash`, or the file's path if it never loaded) was
    /// refused.
    pub fn swap_refused(&self, hash: &str, cause: &str) {
        self.versions().refused.push(RefusedSwap {
            hash: hash.to_string(),
            at_ms: unix_ms(),
            cause: cause.to_string(),
        });
    }

    /// Failed records so far, by cause.
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts an aborted transaction, for `cause`.
    pub fn abort(&self, cause: &str) {
        *self
            .aborts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cause.to_string())
            .or_default() += 1;
    }

    /// Counts a dead letter that could not be written; logs the first.
    pub fn dead_letter_failure(&self, cause: &str) {
        if self.dead_letter_failed.fetch_add(1, Relaxed) == 0 {
            tracing::error!(plugin = self.name.as_str(), "dead letter failed: {cause}");
        }
    }

    fn snapshot(&self, world: World) -> PluginSummary {
        let records_in = self.records_in.load(Relaxed);
        let records_out = self.records_out.load(Relaxed);
        let versions = self.versions();
        PluginSummary {
            world,
            tenant: self.log.tenant().map(str::to_string),
            hash: versions.live.clone(),
            swaps: versions.swaps.clone(),
            refused_swaps: versions.refused.clone(),
            records_in,
            // A source has no input: what it makes is what it hands on, so
            // both counts are the records it made (README, Summary).
            records_out: match world {
                World::Source => records_in,
                _ => records_out,
            },
            dropped: match world {
                World::Transform => records_in.saturating_sub(records_out),
                _ => 0,
            },
            produced: self.produced.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            failed: self.failed.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            restarts: self.restarts.load(Relaxed),
            errors: self.errors.load(Relaxed),
            gave_up: self.gave_up.load(Relaxed),
            peak_in_flight: self.peak_in_flight.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            dead_letter_failed: self.dead_letter_failed.load(Relaxed),
            transactions: self.transactions.load(Relaxed),
            aborted: self.aborted.load(Relaxed),
            log_lines_dropped: self.log.dropped(),
            failure_kinds: FailureKind::ALL
                .iter()
                .map(|k| {
                    (
                        k.label().to_string(),
                        self.failure_kinds[k.index()].load(Relaxed),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
            waited_quota_seconds: seconds_of(&self.waited_quota_ns),
            waited_caps_seconds: seconds_of(&self.waited_caps_ns),
            waited_window_seconds: seconds_of(&self.waited_window_ns),
            call_seconds: self.usage.call_seconds(),
            memory_bytes: self.usage.memory_bytes(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            latency: self.latency.snapshot(),
            aborts: self
                .aborts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            failures: self
                .failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

fn seconds_of(nanos: &AtomicU64) -> f64 {
    nanos.load(Relaxed) as f64 / 1e9
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PluginSummary {
    pub world: World,
    /// The tenant the plugin belongs to, if tenants are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// sha256 of the plugin file live at the end.
    pub hash: String,
    /// Versions that took over while running, oldest first.
    pub swaps: Vec<Swap>,
    /// Versions that were refused, with why.
    pub refused_swaps: Vec<RefusedSwap>,
    pub records_in: u64,
    pub records_out: u64,
    /// Records a transform received and did not return.
    pub dropped: u64,
    pub produced: u64,
    pub delivered: u64,
    pub failed: u64,
    pub bytes: u64,
    pub restarts: u64,
    pub errors: u64,
    /// Stopped for good after failing `runtime.max_restarts` times in a row.
    pub gave_up: bool,
    /// Most records in flight at once (see `max_in_flight_records`).
    pub peak_in_flight: u64,
    /// Of the failed records, those written to the dead-letter topic.
    pub dead_lettered: u64,
    pub dead_letter_failed: u64,
    /// Committed transactions (exactly-once sources only).
    #[serde(default)]
    pub transactions: u64,
    /// Records in aborted transactions, produced again afterwards.
    #[serde(default)]
    pub aborted: u64,
    /// Log lines (from the `log` import, stdout and stderr) dropped over
    /// the plugin's rate limit.
    #[serde(default)]
    pub log_lines_dropped: u64,
    /// Delivery latency of a source's records (batch made -> acknowledged).
    #[serde(default)]
    pub latency: Latencies,
    /// Aborted transactions by cause.
    #[serde(default)]
    pub aborts: BTreeMap<String, u64>,
    /// Failed records by cause.
    pub failures: BTreeMap<String, u64>,
    /// Failed records by kind ([`FailureKind::label`]), kinds with none left out.
    #[serde(default)]
    pub failure_kinds: BTreeMap<String, u64>,
    /// Seconds a source waited on its quota, on its in-flight caps and for
    /// its turn in the producer's shared window.
    #[serde(default)]
    pub waited_quota_seconds: f64,
    #[serde(default)]
    pub waited_caps_seconds: f64,
    #[serde(default)]
    pub waited_window_seconds: f64,
    /// Wall time inside the plugin's calls, in seconds.
    #[serde(default)]
    pub call_seconds: f64,
    /// Linear memory of the plugin's live instances now, in bytes.
    #[serde(default)]
    pub memory_bytes: u64,
    /// The last error the plugin met, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Summary {
    pub embedded_cluster: bool,
    pub elapsed_seconds: f64,
    pub plugins: BTreeMap<String, PluginSummary>,
    /// Config reloads that changed nothing, with why.
    pub config_reloads_refused: Vec<String>,
    /// This host's part in a cluster, if it ran in one.
    #[serde(default)]
    pub cluster: Option<ClusterSummary>,
}

/// This host's part in the cluster, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ClusterSummary {
    pub group: String,
    pub host_id: String,
    /// Every source that ran on this host at some point.
    pub sources_run: std::collections::BTreeSet<String>,
    pub rebalances: u64,
}

/// Every plugin's counters, by name.
#[derive(Default)]
pub struct StatsRegistry {
    entries: Vec<(String, World, std::sync::Arc<PluginStats>)>,
    config_refused: Vec<String>,
}

impl StatsRegistry {
    /// The counters of plugin `name`, made at its first registration
    /// (`tenant` tags its log lines from then on).
    pub fn register(
        &mut self,
        name: &str,
        world: World,
        hash: &str,
        tenant: Option<&str>,
    ) -> std::sync::Arc<PluginStats> {
        if let Some((_, _, s)) = self.entries.iter().find(|(n, ..)| n == name) {
            return s.clone();
        }
        let s = std::sync::Arc::new(PluginStats {
            name: name.to_string(),
            log: std::sync::Arc::new(PluginLog::new(name, tenant)),
            versions: Mutex::new(Versions {
                live: hash.to_string(),
                ..Versions::default()
            }),
            ..PluginStats::default()
        });
        self.entries.push((name.to_string(), world, s.clone()));
        s
    }

    /// A config reload that was refused, and why.
    pub fn config_refused(&mut self, cause: &str) {
        self.config_refused.push(cause.to_string());
    }

    /// What each plugin's pipeline is doing with it now, by name.
    pub fn activities(&self) -> BTreeMap<String, Activity> {
        self.entries
            .iter()
            .map(|(n, _, s)| (n.clone(), s.activity()))
            .collect()
    }

    /// Every plugin's counters now, by name.
    pub fn plugins(&self) -> BTreeMap<String, PluginSummary> {
        self.entries
            .iter()
            .map(|(n, w, s)| (n.clone(), s.snapshot(*w)))
            .collect()
    }

    /// The run's summary; first logs every plugin's log drops not yet
    /// reported, so that the log and the summary agree.
    pub fn summary(&self, embedded_cluster: bool, elapsed_seconds: f64) -> Summary {
        for (_, _, s) in &self.entries {
            s.log.flush();
        }
        Summary {
            embedded_cluster,
            elapsed_seconds,
            plugins: self.plugins(),
            config_reloads_refused: self.config_refused.clone(),
            cluster: None,
        }
    }
}

/// A latency bound for people: `5 ms`, `2 s`, `> 120 s`.
fn seconds(s: f64) -> String {
    if s.is_infinite() {
        format!(
            "> {} s",
            crate::latency::BOUNDS[crate::latency::BOUNDS.len() - 1]
        )
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s} s")
    }
}

impl Summary {
    /// A table for people.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:<11} {:>10} {:>10} {:>10} {:>7} {:>8} {:>10} {:>8}",
            "plugin",
            "world",
            "produced",
            "delivered",
            "failed",
            "dropped",
            "restarts",
            "MB",
            "rec/s"
        );
        for (name, p) in &self.plugins {
            let rate = if self.elapsed_seconds > 0.0 {
                p.delivered as f64 / self.elapsed_seconds
            } else {
                0.0
            };
            let (produced, delivered, failed, mb, rate) = match p.world {
                World::Source => (
                    p.produced.to_string(),
                    p.delivered.to_string(),
                    p.failed.to_string(),
                    format!("{:.1}", p.bytes as f64 / 1e6),
                    format!("{rate:.0}"),
                ),
                _ => Default::default(),
            };
            let dropped = if p.world == World::Transform {
                p.dropped.to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{name:<20} {:<11} {produced:>10} {delivered:>10} {failed:>10} {dropped:>7} {:>8} {mb:>10} {rate:>8}",
                p.world.to_string(),
                p.restarts
            );
            if p.gave_up {
                let _ = writeln!(out, "  gave up after repeated failures (see the log)");
            }
            for (cause, n) in &p.failures {
                let _ = writeln!(out, "  {n} failed: {cause}");
            }
            if p.transactions + p.aborted > 0 {
                let _ = writeln!(
                    out,
                    "  exactly-once: {} transactions committed; {} records in aborted ones, made again",
                    p.transactions, p.aborted
                );
            }
            for (cause, n) in &p.aborts {
                let _ = writeln!(out, "  {n} transaction(s) aborted: {cause}");
            }
            if let (Some(p50), Some(p99)) = (p.latency.quantile(0.5), p.latency.quantile(0.99)) {
                let _ = writeln!(
                    out,
                    "  delivery latency (batch made -> acknowledged): p50 <= {}, p99 <= {}",
                    seconds(p50),
                    seconds(p99)
                );
            }
            if p.log_lines_dropped > 0 {
                let _ = writeln!(
                    out,
                    "  {} log lines dropped (over {} lines/s)",
                    p.log_lines_dropped,
                    crate::plugin::logs::LINES_PER_SECOND
                );
            }
            if p.dead_lettered + p.dead_letter_failed > 0 {
                let _ = writeln!(
                    out,
                    "  {} dead-lettered, {} could not be",
                    p.dead_lettered, p.dead_letter_failed
                );
            }
        }
        if let Some(c) = &self.cluster {
            let ran: Vec<&str> = c.sources_run.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "cluster group `{}`, host `{}`: {} rebalance(s); ran {}",
                c.group,
                c.host_id,
                c.rebalances,
                if ran.is_empty() {
                    "no source".to_string()
                } else {
                    ran.join(", ")
                }
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sources_records_out_are_the_records_it_made() {
        let mut registry = StatsRegistry::default();
        let source = registry.register("s", World::Source, "h", None);
        let transform = registry.register("t", World::Transform, "h", None);
        PluginStats::add(&source.records_in, 7);
        PluginStats::add(&transform.records_in, 7);
        PluginStats::add(&transform.records_out, 5);
        let summary = registry.summary(false, 1.0);
        let get = |name: &str| &summary.plugins[name];
        assert_eq!((get("s").records_in, get("s").records_out), (7, 7));
        assert_eq!(get("s").dropped, 0);
        assert_eq!((get("t").records_out, get("t").dropped), (5, 2));
    }
}
