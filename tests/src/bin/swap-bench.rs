//! Issue 4's figures, against the real broker: how long a hot swap takes,
//! from the plugin file's last write to the new version serving its first
//! batch, for a component of about 1 MB of code (warm compile cache, and
//! the first, cold one); and whether throughput dips while swapping,
//! at 1-second resolution.
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin swap-bench [OUT.json]`
//! (needs `cargo build --release -p streamplug` first). Writes
//! `tests/bench-results/swap.json` by default.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use streamplug_tests::{
    Scratch, artifacts, brokers, mark_version, read_summary, sigterm, spawn_run, unique_topic,
    wait_with_limit,
};

const SWAPS: usize = 12;
const SWAP_EVERY: Duration = Duration::from_secs(2);
const QUIET: Duration = Duration::from_secs(4);

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/swap.json")
        });
    let dir = Scratch::new("swap-bench");
    let topic = unique_topic("swap-bench");
    let versions = [
        mark_version(artifacts::TEST_BIG_MARK, "v1"),
        mark_version(artifacts::TEST_BIG_MARK, "v2"),
    ];
    let size = versions[0].len();
    let plugin = dir.path().join("big-mark.wasm");
    std::fs::write(&plugin, &versions[0])?;
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[runtime]\ncache_dir = \"{}\"\n\
         [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\ntransforms = [\"mark\"]\n\
         [source.config]\ntimestamp = \"none\"\n\
         [[transform]]\nname = \"mark\"\nwasm = \"big-mark.wasm\"\n",
        brokers(),
        dir.path().join("cache").display(),
        artifacts::DATAGEN
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut sampler = Sampler::new(&topic)?;
    let mut child = spawn_run(&path, &summary, dir.path());
    let mut swap_times = Vec::new();
    sampler.sample_for(QUIET);
    let mut written = Ok(());
    for i in 0..SWAPS {
        written = std::fs::write(&plugin, &versions[(i + 1) % 2]);
        if written.is_err() {
            break;
        }
        swap_times.push(sampler.started.elapsed().as_secs_f64());
        sampler.sample_for(SWAP_EVERY);
    }
    sampler.sample_for(QUIET);
    sigterm(&child);
    wait_with_limit(&mut child, Duration::from_secs(120));
    written.with_context(|| format!("cannot write {}", plugin.display()))?;
    let samples = sampler.samples;
    let s = read_summary(&summary);
    let swaps = s["plugins"]["mark"]["swaps"]
        .as_array()
        .context("no swaps in the summary")?
        .clone();
    let latencies: Vec<f64> = swaps
        .iter()
        .filter_map(|s| s["latency_ms"].as_f64())
        .collect();
    anyhow::ensure!(
        latencies.len() == SWAPS,
        "{} of {SWAPS} swaps served; see {}",
        latencies.len(),
        dir.path().join("stderr.log").display()
    );
    // v2 is compiled at its first swap; every later swap finds its version
    // in the cache (v1 was compiled at startup).
    let cold = latencies[0];
    let mut warm: Vec<f64> = latencies[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let median = warm[warm.len() / 2];
    let max = warm[warm.len() - 1];

    // Records per whole second, from the samples.
    let mut per_second: Vec<(u64, f64)> = Vec::new();
    for w in samples.windows(2) {
        let second = w[1].0.floor() as u64;
        let delta = (w[1].1 - w[0].1) as f64;
        match per_second.last_mut() {
            Some((s, n)) if *s == second => *n += delta,
            _ => per_second.push((second, delta)),
        }
    }
    // Drop the first seconds (start-up, topic creation) and the partial last.
    let steady: Vec<(u64, f64)> = per_second
        .iter()
        .copied()
        .filter(|(s, _)| *s >= 2 && (*s as f64) < samples.last().map_or(0.0, |l| l.0.floor()))
        .collect();
    let with_swap = |s: u64| swap_times.iter().any(|t| t.floor() as u64 == s);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let swap_secs: Vec<f64> = steady
        .iter()
        .filter(|(s, _)| with_swap(*s))
        .map(|x| x.1)
        .collect();
    let other_secs: Vec<f64> = steady
        .iter()
        .filter(|(s, _)| !with_swap(*s))
        .map(|x| x.1)
        .collect();
    let ratio = mean(&swap_secs) / mean(&other_secs);
    println!("component: {size} bytes");
    println!("swap latency, cold compile: {cold:.1} ms");
    println!(
        "swap latency, warm cache: median {median:.1} ms, max {max:.1} ms over {} swaps",
        warm.len()
    );
    println!(
        "throughput: {:.0} rec/s in seconds with a swap, {:.0} rec/s in the others (ratio {ratio:.2}); slowest second {:.0}",
        mean(&swap_secs),
        mean(&other_secs),
        steady.iter().map(|x| x.1).fold(f64::INFINITY, f64::min)
    );
    let report = json!({
        "what": "hot swap of a ~1 MB transform under a full-speed datagen: latency from the file's last write to the new version serving, and records/s per second with and without a swap",
        "component_bytes": size,
        "swaps": SWAPS,
        "latency_ms": { "cold_compile": cold, "warm_median": median, "warm_max": max, "all": latencies },
        "throughput": {
            "per_second": steady.iter().map(|(s, n)| json!({ "second": s, "records": n, "swap": with_swap(*s) })).collect::<Vec<_>>(),
            "mean_with_swap": mean(&swap_secs),
            "mean_without_swap": mean(&other_secs),
            "ratio": ratio,
        },
    });
    streamplug_tests::write_report(&out, &report)?;
    Ok(())
}

/// The topic's size every 100 ms, with the time since the start.
struct Sampler {
    watcher: BaseConsumer,
    topic: String,
    started: Instant,
    samples: Vec<(f64, i64)>,
}

impl Sampler {
    fn new(topic: &str) -> Result<Self> {
        Ok(Self {
            watcher: ClientConfig::new()
                .set("bootstrap.servers", brokers())
                .create()?,
            topic: topic.to_string(),
            started: Instant::now(),
            samples: Vec::new(),
        })
    }

    fn sample_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            let high = self
                .watcher
                .fetch_watermarks(&self.topic, 0, Duration::from_secs(5))
                .map_or(0, |(_, h)| h);
            self.samples
                .push((self.started.elapsed().as_secs_f64(), high));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
