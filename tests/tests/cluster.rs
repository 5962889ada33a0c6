//! Hosts sharing sources through Kafka's group protocol, as separate
//! `streamplug run` processes against the real broker: 12 sources (three
//! exactly-once), each record's `seq` and make time read back per source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, consume_all_uncommitted, read_summary,
    sigterm, spawn_run, streamplug, unique_topic, wait_with_limit,
};

const SOURCES: usize = 12;
/// The broker's smallest allowed session timeout (group.min.session.timeout.ms).
const SESSION_MS: u64 = 6_000;
/// Each source makes 100 records/s in batches of 20: a batch every 200 ms.
const BATCH_INTERVAL_MS: i64 = 200;

fn source_name(i: usize) -> String {
    format!("s{i:02}")
}

fn exactly_once(i: usize) -> bool {
    i.is_multiple_of(4)
}

struct Group {
    dir: Scratch,
    group: String,
    topics: String,
    checkpoints: String,
}

impl Group {
    fn new(label: &str) -> Self {
        Self {
            dir: Scratch::new(label),
            group: unique_topic(&format!("{label}-group")),
            topics: unique_topic(label),
            checkpoints: unique_topic(&format!("{label}-checkpoints")),
        }
    }

    fn topic(&self, i: usize) -> String {
        format!("{}-{}", self.topics, source_name(i))
    }

    /// The config every host runs; `host` only changes `host_id`, which
    /// hosts do not compare. `tweak` changes one source's config.
    fn config(&self, host: &str, tweak: Option<usize>) -> String {
        let mut c = format!(
            "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"kafka\"\ntopic = \"{}\"\n\
             interval_ms = 100\n[cluster]\ngroup = \"{}\"\nsession_timeout_ms = {SESSION_MS}\n\
             host_id = \"{host}\"\n",
            brokers(),
            self.checkpoints,
            self.group
        );
        for i in 0..SOURCES {
            let delivery = if exactly_once(i) {
                "exactly_once"
            } else {
                "at_least_once"
            };
            let rate = if tweak == Some(i) { 99 } else { 100 };
            c += &format!(
                "[[source]]\nname = \"{}\"\nwasm = \"datagen.wasm\"\ntopic = \"{}\"\n\
                 batch_size = 20\ndelivery = \"{delivery}\"\n[source.config]\nrate = {rate}\n",
                source_name(i),
                self.topic(i)
            );
        }
        c
    }

    fn host_dir(&self, host: &str) -> PathBuf {
        let d = self.dir.path().join(host);
        std::fs::create_dir_all(&d).expect("host dir");
        d
    }

    /// Each host has its own copy of the plugin, next to its config (the
    /// config names it by a relative path, the same text on every host).
    fn write_config(&self, host: &str, text: &str) -> PathBuf {
        let wasm = self.host_dir(host).join("datagen.wasm");
        if !wasm.exists() {
            std::fs::copy(artifacts::DATAGEN, &wasm).expect("copy the plugin");
        }
        let path = self.host_dir(host).join("config.toml");
        std::fs::write(&path, text).expect("config");
        path
    }

    fn start(&self, host: &str) -> Child {
        let config = self.write_config(host, &self.config(host, None));
        let d = self.host_dir(host);
        spawn_run(&config, &d.join("summary.json"), &d)
    }

    fn log(&self, host: &str) -> String {
        std::fs::read_to_string(self.host_dir(host).join("stderr.log")).unwrap_or_default()
    }

    fn summary(&self, host: &str) -> serde_json::Value {
        read_summary(&self.host_dir(host).join("summary.json"))
    }

    /// `streamplug cluster status --json`: each live host's sources.
    fn status(&self) -> BTreeMap<String, BTreeSet<String>> {
        let config = self.write_config("status", &self.config("status", None));
        let out = streamplug()
            .args(["cluster", "status", "--json", "--config"])
            .arg(&config)
            .output()
            .expect("cluster status");
        if !out.status.success() {
            return BTreeMap::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        v["members"]
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
            .collect()
    }

    /// Waits until exactly `hosts` are live, each runs some source and
    /// every source runs on exactly one of them; returns who runs what.
    fn wait_until_spread(
        &self,
        hosts: &[&str],
        limit: Duration,
    ) -> BTreeMap<String, BTreeSet<String>> {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.status();
            let live: Vec<&str> = status.keys().map(String::as_str).collect();
            let runs: Vec<&String> = status.values().flatten().collect();
            let distinct: BTreeSet<&String> = runs.iter().copied().collect();
            let each_runs_some = status.values().all(|s| !s.is_empty());
            if live == hosts && each_runs_some && runs.len() == SOURCES && distinct.len() == SOURCES
            {
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
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn records(&self, i: usize) -> Vec<Consumed> {
        consume_all(&brokers(), &self.topic(i), Duration::from_millis(300)).expect("consume")
    }

    /// Every source's records: each seq from 0 to the last is present, and
    /// exactly once for exactly-once sources read `read_committed`.
    fn assert_nothing_lost(&self) {
        for i in 0..SOURCES {
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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn stop(hosts: &mut [(&str, Child)]) {
    for (_, c) in hosts.iter() {
        sigterm(c);
    }
    for (h, c) in hosts.iter_mut() {
        let status = wait_with_limit(c, Duration::from_secs(90));
        assert!(status.success(), "host {h} exited with {status}");
    }
}

/// The longest gap between consecutive records (by seq) made in `window`.
fn longest_gap(records: &[Consumed], window: (i64, i64)) -> i64 {
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

#[test]
fn kill_9_of_a_host_moves_its_sources_within_the_session_timeout() {
    let g = Group::new("cl-kill");
    let h1 = g.start("h1");
    let h2 = g.start("h2");
    let mut h3 = g.start("h3");
    let spread = g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    let killed_at = now_ms();
    h3.kill().expect("kill -9");
    h3.wait().expect("wait");
    let moved = spread["h3"].clone();
    assert!(!moved.is_empty(), "h3 ran nothing: {spread:?}");
    g.wait_until_spread(&["h1", "h2"], Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    stop(&mut [("h1", h1), ("h2", h2)]);

    for name in &moved {
        let i: usize = name[1..].parse().expect("source index");
        let first_after = g
            .records(i)
            .iter()
            .filter_map(|r| r.timestamp)
            .filter(|t| *t > killed_at)
            .min()
            .unwrap_or_else(|| panic!("{name}: no record after the kill"));
        let failover = first_after - killed_at;
        eprintln!("{name}: ran again {failover} ms after the kill");
        assert!(
            failover <= SESSION_MS as i64 + 5_000,
            "{name}: {failover} ms after the kill"
        );
    }
    g.assert_nothing_lost();
}

#[test]
fn a_fourth_host_takes_some_sources_and_the_others_do_not_pause() {
    let g = Group::new("cl-join");
    let h1 = g.start("h1");
    let h2 = g.start("h2");
    let h3 = g.start("h3");
    let before = g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    let joined_at = now_ms();
    let h4 = g.start("h4");
    let after = g.wait_until_spread(&["h1", "h2", "h3", "h4"], Duration::from_secs(60));
    let settled_at = now_ms();
    std::thread::sleep(Duration::from_secs(2));
    stop(&mut [("h1", h1), ("h2", h2), ("h3", h3), ("h4", h4)]);

    assert!(!after["h4"].is_empty(), "h4 took nothing: {after:?}");
    let owner = |m: &BTreeMap<String, BTreeSet<String>>, s: &str| {
        m.iter()
            .find(|(_, v)| v.contains(s))
            .map(|(h, _)| h.clone())
    };
    for i in 0..SOURCES {
        let name = source_name(i);
        let gap = longest_gap(&g.records(i), (joined_at, settled_at));
        let moved = owner(&before, &name) != owner(&after, &name);
        eprintln!("{name}: moved {moved}, longest gap while h4 joined {gap} ms");
        if !moved {
            // One batch interval, plus scheduling slack on a loaded 2-core machine.
            assert!(
                gap <= BATCH_INTERVAL_MS + 500,
                "{name} did not move but paused {gap} ms"
            );
        }
    }
    let s4 = g.summary("h4");
    assert!(
        !s4["cluster"]["sources_run"]
            .as_array()
            .expect("sources_run")
            .is_empty(),
        "{s4}"
    );
    g.assert_nothing_lost();
}

#[test]
fn a_rolling_restart_under_load_loses_nothing() {
    let g = Group::new("cl-roll");
    let mut hosts: Vec<(&str, Child)> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| (*h, g.start(h)))
        .collect();
    g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
    for (name, child) in hosts.iter_mut() {
        sigterm(child);
        let status = wait_with_limit(child, Duration::from_secs(90));
        assert!(status.success(), "{name}: {status}\n{}", g.log(name));
        *child = g.start(name);
        g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
        std::thread::sleep(Duration::from_secs(1));
    }
    stop(&mut hosts);
    g.assert_nothing_lost();
}

fn refused(g: &Group, host: &str, config: &str) -> String {
    let path = g.write_config(host, config);
    let out = streamplug().arg("run").arg(&path).output().expect("run");
    assert!(!out.status.success(), "{host} was not refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_host_whose_config_or_plugin_differs_is_refused_with_the_difference_named() {
    let g = Group::new("cl-differs");
    let h1 = g.start("h1");
    g.wait_until_spread(&["h1"], Duration::from_secs(90));

    let err = refused(&g, "h2", &g.config("h2", Some(5)));
    assert!(err.contains("source `s05` differs"), "{err}");
    assert!(err.contains("host `h1`"), "{err}");

    // The same config text, but h2's plugin file has other bytes (a custom
    // section appended: still a valid component).
    let mut bytes = std::fs::read(artifacts::DATAGEN).expect("datagen");
    bytes.extend([0x00, 0x05, 0x04, b't', b'e', b's', b't']);
    std::fs::write(g.host_dir("h2").join("datagen.wasm"), bytes).expect("write");
    let err = refused(&g, "h2", &g.config("h2", None));
    assert!(
        err.contains("a plugin file of source `s00` differs"),
        "{err}"
    );

    let err = refused(&g, "h1", &g.config("h1", None));
    assert!(
        err.contains("host id `h1` is already a live member"),
        "{err}"
    );

    stop(&mut [("h1", h1)]);
}

#[test]
fn cluster_mode_needs_the_kafka_checkpoint_store() {
    let g = Group::new("cl-store");
    let config = g
        .config("h1", None)
        .replace("store = \"kafka\"", "store = \"file\"\ndir = \"/tmp\"")
        .replace("exactly_once", "at_least_once");
    let err = refused(&g, "h1", &config);
    assert!(
        err.contains("[cluster] needs `[checkpoints]` with `store = \"kafka\"`"),
        "{err}"
    );
}
