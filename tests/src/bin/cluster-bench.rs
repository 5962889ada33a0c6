//! Issue 15's figures, against the real broker, with `streamplug run`
//! processes on this one machine (2 cores: every host competes for the same
//! CPU, so this measures the protocol's costs, not scaling):
//! - total throughput of 1, 2 and 3 hosts sharing 12 sources that make
//!   records as fast as they can (a steady 10 s window after the sources
//!   are spread), rounds interleaved;
//! - failover: `kill -9` of one of 3 hosts → first record its sources make
//!   on their new hosts (sources at 100 records/s);
//! - rebalance pause: a 4th host joins; the longest gap between records of
//!   the sources that moved, and of those that did not.
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin cluster-bench [OUT.json]`
//! (needs `cargo build --release -p streamplug` first). Writes
//! `tests/bench-results/cluster.json` by default.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use streamplug_tests::cluster::{Group, SOURCES, longest_gap, now_ms, source_name, stop};
use streamplug_tests::{brokers, loadavg};

const HOSTS: [&str; 4] = ["h1", "h2", "h3", "h4"];
const ROUNDS: usize = 2;
const WINDOW: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/cluster.json")
        });
    let load_before = loadavg();
    let mut throughput: Vec<(usize, Vec<f64>)> = (1..=3).map(|n| (n, Vec::new())).collect();
    for round in 0..ROUNDS {
        for (n, rates) in throughput.iter_mut() {
            let rate = steady_rate(*n)?;
            eprintln!("round {round}: {n} host(s): {rate:.0} records/s");
            rates.push(rate);
        }
    }
    let failover = failover_ms()?;
    let (moved, unmoved) = join_pauses()?;
    let one = mean(&throughput[0].1);
    let results = json!({
        "machine": "2 cores; broker and every host on the same machine",
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "sources": SOURCES,
        "throughput_records_per_s": throughput.iter().map(|(n, r)| json!({
            "hosts": n, "rounds": r, "mean": mean(r), "vs_one_host": mean(r) / one,
        })).collect::<Vec<_>>(),
        "failover_ms": failover,
        "join_pause_ms": { "moved": moved, "unmoved_max": unmoved.iter().max() },
    });
    std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", serde_json::to_string_pretty(&results)?);
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Records in the 12 source topics now.
fn total_records(g: &Group, client: &BaseConsumer) -> Result<i64> {
    let mut sum = 0;
    for i in 0..SOURCES {
        let (low, high) = client
            .fetch_watermarks(&g.topic(i), 0, Duration::from_secs(5))
            .context("watermarks")?;
        sum += high - low;
    }
    Ok(sum)
}

fn steady_rate(hosts: usize) -> Result<f64> {
    let mut g = Group::new(&format!("clb-{hosts}"));
    g.rate = None;
    let mut children: Vec<(&str, streamplug_tests::cluster::Host)> =
        HOSTS[..hosts].iter().map(|h| (*h, g.start(h))).collect();
    g.wait_until_spread(&HOSTS[..hosts], Duration::from_secs(120));
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()?;
    // Past the start-up: the first seconds include plugin instantiation.
    std::thread::sleep(Duration::from_secs(3));
    let (t0, n0) = (Instant::now(), total_records(&g, &client)?);
    std::thread::sleep(WINDOW);
    let (t1, n1) = (Instant::now(), total_records(&g, &client)?);
    stop(&mut children);
    Ok((n1 - n0) as f64 / (t1 - t0).as_secs_f64())
}

/// Kill → first record of each source of the killed host, made elsewhere.
fn failover_ms() -> Result<Vec<i64>> {
    let g = Group::new("clb-kill");
    let h1 = g.start("h1");
    let h2 = g.start("h2");
    let mut h3 = g.start("h3");
    let spread = g.wait_until_spread(&HOSTS[..3], Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let killed_at = now_ms();
    h3.kill().expect("kill -9");
    h3.wait().expect("wait");
    g.wait_until_spread(&HOSTS[..2], Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    stop(&mut [("h1", h1), ("h2", h2)]);
    let mut out = Vec::new();
    for name in &spread["h3"] {
        let i: usize = name[1..].parse()?;
        let first = g
            .records(i)
            .iter()
            .filter_map(|r| r.timestamp)
            .filter(|t| *t > killed_at)
            .min()
            .context("no record after the kill")?;
        out.push(first - killed_at);
    }
    Ok(out)
}

/// A 4th host joins 3: the longest gap of each moved source, and of each
/// source that stayed.
fn join_pauses() -> Result<(Vec<i64>, Vec<i64>)> {
    let g = Group::new("clb-join");
    let mut children: Vec<(&str, streamplug_tests::cluster::Host)> =
        HOSTS[..3].iter().map(|h| (*h, g.start(h))).collect();
    g.wait_until_spread(&HOSTS[..3], Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let joined_at = now_ms();
    children.push(("h4", g.start("h4")));
    let after = g.wait_until_spread(&HOSTS, Duration::from_secs(60));
    let settled_at = now_ms();
    std::thread::sleep(Duration::from_secs(1));
    stop(&mut children);
    let moved: BTreeSet<&String> = after["h4"].iter().collect();
    let (mut m, mut u) = (Vec::new(), Vec::new());
    for i in 0..SOURCES {
        let gap = longest_gap(&g.records(i), (joined_at, settled_at));
        if moved.contains(&source_name(i)) {
            m.push(gap);
        } else {
            u.push(gap);
        }
    }
    Ok((m, u))
}
