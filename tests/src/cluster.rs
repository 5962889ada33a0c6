//! A cluster of `streamplug run` processes sharing 12 sources (three
//! exactly-once), for the cluster tests and the cluster bench.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{
    Consumed, Scratch, artifacts, brokers, consume_all, consume_all_uncommitted, read_summary,
    sigterm, spawn_run, streamplug, unique_topic, wait_with_limit,
};

/// Sources in a group's config at start (a reload may add more).
pub const SOURCES: usize = 12;
/// The broker's smallest allowed session timeout (group.min.session.timeout.ms).
pub const SESSION_MS: u64 = 6_000;
/// Each source makes 100 records/s in batches of 20: a batch every 200 ms.
pub const BATCH_INTERVAL_MS: i64 = 200;

pub fn source_name(i: usize) -> String {
    format!("s{i:02}")
}

pub fn exactly_once(i: usize) -> bool {
    i.is_multiple_of(4)
}

/// A host process, killed if its test ends first (a failed assertion must
/// not leave hosts running that load the machine and the next tests' broker).
pub struct Host(Child);

impl std::ops::Deref for Host {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Host {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub struct Group {
    pub dir: Scratch,
    pub group: String,
    topics: String,
    checkpoints: String,
    /// Records per second of each source; `None`: as fast as it can.
    pub rate: Option<u64>,
    /// Sources in the config that hosts are given from now on.
    sources: AtomicUsize,
}

impl Group {
    pub fn new(label: &str) -> Self {
        Self {
            dir: Scratch::new(label),
            group: unique_topic(&format!("{label}-group")),
            topics: unique_topic(label),
            checkpoints: unique_topic(&format!("{label}-checkpoints")),
            rate: Some(100),
            sources: AtomicUsize::new(SOURCES),
        }
    }

    /// Sources in the config that hosts are given from now on.
    pub fn sources(&self) -> usize {
        self.sources.load(Ordering::Relaxed)
    }

    /// Gives hosts `n` sources from now on (the first `n` of `s00`, `s01`, …).
    pub fn set_sources(&self, n: usize) {
        self.sources.store(n, Ordering::Relaxed);
    }

    /// Rewrites `host`'s config file with the current config: a running
    /// host reloads it.
    pub fn rewrite_config(&self, host: &str) {
        let path = self.host_dir(host).join("config.toml");
        let tmp = path.with_extension("toml.new");
        std::fs::write(&tmp, self.config(host, None)).expect("config");
        std::fs::rename(&tmp, &path).expect("replace the config");
    }

    pub fn topic(&self, i: usize) -> String {
        format!("{}-{}", self.topics, source_name(i))
    }

    /// The config every host runs; `host` only changes `host_id`, which
    /// hosts do not compare. `tweak` changes one source's config.
    pub fn config(&self, host: &str, tweak: Option<usize>) -> String {
        let mut c = format!(
            "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"kafka\"\ntopic = \"{}\"\n\
             interval_ms = 100\n[cluster]\ngroup = \"{}\"\nsession_timeout_ms = {SESSION_MS}\n\
             host_id = \"{host}\"\n",
            brokers(),
            self.checkpoints,
            self.group
        );
        for i in 0..self.sources() {
            let delivery = if exactly_once(i) {
                "exactly_once"
            } else {
                "at_least_once"
            };
            let (batch, rate) = match self.rate {
                Some(r) if tweak == Some(i) => (20, r - 1),
                Some(r) => (20, r),
                None => (500, 0),
            };
            c += &format!(
                "[[source]]\nname = \"{}\"\nwasm = \"datagen.wasm\"\ntopic = \"{}\"\n\
                 batch_size = {batch}\ndelivery = \"{delivery}\"\n[source.config]\nrate = {rate}\n",
                source_name(i),
                self.topic(i)
            );
        }
        c
    }

    pub fn host_dir(&self, host: &str) -> PathBuf {
        let d = self.dir.path().join(host);
        std::fs::create_dir_all(&d).expect("host dir");
        d
    }

    /// Each host has its own copy of the plugin, next to its config (the
    /// config names it by a relative path, the same text on every host).
    pub fn write_config(&self, host: &str, text: &str) -> PathBuf {
        let wasm = self.host_dir(host).join("datagen.wasm");
        if !wasm.exists() {
            std::fs::copy(artifacts::DATAGEN, &wasm).expect("copy the plugin");
        }
        let path = self.host_dir(host).join("config.toml");
        std::fs::write(&path, text).expect("config");
        path
    }

    pub fn start(&self, host: &str) -> Host {
        let config = self.write_config(host, &self.config(host, None));
        let d = self.host_dir(host);
        Host(spawn_run(&config, &d.join("summary.json"), &d))
    }

    pub fn log(&self, host: &str) -> String {
        std::fs::read_to_string(self.host_dir(host).join("stderr.log")).unwrap_or_default()
    }

    /// Waits until `host`'s log contains `needle`; fails with the log if
    /// it does not within `limit`.
    pub fn wait_for_log(&self, host: &str, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log(host).contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{host} did not log {needle:?} within {limit:?}:\n{}",
                self.log(host)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn summary(&self, host: &str) -> serde_json::Value {
        read_summary(&self.host_dir(host).join("summary.json"))
    }

    /// `streamplug cluster status --json`, as printed.
    pub fn status_json(&self) -> Result<serde_json::Value, String> {
        let config = self.write_config("status", &self.config("status", None));
        let out = streamplug()
            .args(["cluster", "status", "--json", "--config"])
            .arg(&config)
            .output()
            .expect("cluster status");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).expect("status JSON"))
    }

    /// The group generation `cluster status` reports, once every live host
    /// reports the same one.
    pub fn generation(&self) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(v) = self.status_json() {
                let each: BTreeSet<Option<i64>> = v["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| m["generation"].as_i64())
                    .collect();
                let agreed = match each.iter().collect::<Vec<_>>()[..] {
                    [Some(one)] => Some(*one),
                    _ => None,
                };
                if let (Some(g), Some(one)) = (v["generation"].as_i64(), agreed) {
                    assert_eq!(g, one, "{v}");
                    return g;
                }
                assert!(Instant::now() < deadline, "no agreed generation: {v}");
            }
            assert!(Instant::now() < deadline, "cluster status failed");
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// `streamplug cluster status --json`: each live host's sources.
    pub fn status(&self) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
        let v = self.status_json()?;
        Ok(v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let sources = m["sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                (m["host"].as_str().unwrap_or_default().to_string(), sources)
            })
            .collect())
    }

    /// Waits until exactly `hosts` are live, each runs some source and
    /// every source runs on exactly one of them; returns who runs what.
    pub fn wait_until_spread(
        &self,
        hosts: &[&str],
        limit: Duration,
    ) -> BTreeMap<String, BTreeSet<String>> {
        let deadline = Instant::now() + limit;
        loop {
            let status = match self.status() {
                Ok(s) => s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cluster status failed: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let live: Vec<&str> = status.keys().map(String::as_str).collect();
            let runs: Vec<&String> = status.values().flatten().collect();
            let distinct: BTreeSet<&String> = runs.iter().copied().collect();
            let each_runs_some = status.values().all(|s| !s.is_empty());
            let n = self.sources();
            if live == hosts && each_runs_some && runs.len() == n && distinct.len() == n {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sources not spread over {hosts:?} within {limit:?}: {status:?}\n{}",
                hosts
                    .iter()
                    .map(|h| self.log(h))
                    .collect::<Vec<_>>()
                    .join("\n----\n")
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    pub fn records(&self, i: usize) -> Vec<Consumed> {
        consume_all(&brokers(), &self.topic(i), Duration::from_millis(300)).expect("consume")
    }

    /// Every source's records: each seq from 0 to the last is present, and
    /// exactly once for exactly-once sources read `read_committed`.
    pub fn assert_nothing_lost(&self) {
        for i in 0..self.sources() {
            let records = self.records(i);
            let mut seqs: Vec<u64> = records.iter().map(Consumed::seq).collect();
            assert!(!seqs.is_empty(), "{}: no records", source_name(i));
            seqs.sort_unstable();
            let last = *seqs.last().expect("a record");
            let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
            assert_eq!(
                distinct.len() as u64,
                last + 1,
                "{}: seqs missing below {last}",
                source_name(i)
            );
            if exactly_once(i) {
                assert_eq!(seqs.len(), distinct.len(), "{}: duplicates", source_name(i));
                let all =
                    consume_all_uncommitted(&brokers(), &self.topic(i), Duration::from_millis(300))
                        .expect("consume");
                eprintln!(
                    "{}: {} records read_committed, {} in the log",
                    source_name(i),
                    seqs.len(),
                    all.len()
                );
            }
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

pub fn stop(hosts: &mut [(&str, Host)]) {
    for (_, c) in hosts.iter() {
        sigterm(c);
    }
    for (h, c) in hosts.iter_mut() {
        let status = wait_with_limit(c, Duration::from_secs(90));
        assert!(status.success(), "host {h} exited with {status}");
    }
}

/// The longest gap between consecutive records (by seq) made in `window`.
pub fn longest_gap(records: &[Consumed], window: (i64, i64)) -> i64 {
    let mut by_seq: Vec<(u64, i64)> = records
        .iter()
        .filter_map(|r| r.timestamp.map(|t| (r.seq(), t)))
        .collect();
    by_seq.sort_unstable();
    by_seq.dedup_by_key(|(s, _)| *s);
    by_seq
        .windows(2)
        .filter(|w| w[1].1 >= window.0 && w[0].1 <= window.1)
        .map(|w| w[1].1 - w[0].1)
        .max()
        .unwrap_or(0)
}
