//! Density (issue 6, item 3): how many plugin instances one host process
//! holds, what they cost in memory, how long they take to start, and what
//! the active ones still produce.
//!
//! Three scenarios, each in a child process of its own so that each one's
//! RSS is its own:
//!
//! - `sandbox-pooling`, `sandbox-on-demand`: `--instances` instances (idle
//!   `datagen` sources and `passthrough` transforms, alternating) started one
//!   after another with the host's sandbox API on one engine, with and
//!   without the pooling allocator. Each start is timed (WASI context,
//!   store, instantiation from the template, `init`); RSS is read after all
//!   have started and again after each has served one call.
//! - `sandbox-pooling-separate-loads`: the same, but each instance's plugin
//!   is loaded on its own (from the compile cache), as `streamplug run`
//!   loads one component per named plugin even when the files are the same.
//! - `host`: the real runtime (`streamplug::runtime::run_until`, what
//!   `streamplug run` does) in this process, with a config of `--instances`
//!   plugin instances: `--active` `datagen` sources producing 100-byte
//!   records as fast as they can to the real broker, and idle pipelines of a
//!   `datagen` source (one record per 1,000 s) and a `passthrough` transform.
//!   Each idle pipeline's first record goes through both plugins, so once
//!   the idle topic holds one record per idle pipeline, every instance is
//!   live. Then RSS is read, and the active sources' throughput is measured
//!   at the broker over `--seconds`.
//! - `host-active-only`: the same run with only the active sources, as the
//!   baseline for their throughput and memory.
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin density [-- OPTIONS]`
//!
//! Options: `--instances N` (1000), `--active K` (10), `--seconds S` (10),
//! `--out PATH` (`tests/bench-results/density.json`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};
use streamplug::config::{Capabilities, PluginLimits};
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{self, CompileCache, SourceInstance, TransformInstance};
use streamplug::{Config, Stop, engine};
use streamplug_tests::{artifacts, unique_topic};

const SCENARIOS: [&str; 5] = [
    "sandbox-pooling",
    "sandbox-on-demand",
    "sandbox-pooling-separate-loads",
    "host",
    "host-active-only",
];
/// Partitions of the active sources' topic.
const ACTIVE_PARTITIONS: i32 = 6;

#[derive(Debug, Clone)]
struct Options {
    instances: usize,
    active: usize,
    seconds: u64,
    out: PathBuf,
    child: Option<String>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        instances: 1000,
        active: 10,
        seconds: 10,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results/density.json"),
        child: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--instances" => o.instances = value()?.parse().context("--instances")?,
            "--active" => o.active = value()?.parse().context("--active")?,
            "--seconds" => o.seconds = value()?.parse().context("--seconds")?,
            "--out" => o.out = PathBuf::from(value()?),
            "--child" => o.child = Some(value()?),
            other => {
                bail!("unknown option {other} (expected --instances, --active, --seconds, --out)")
            }
        }
    }
    if o.active > o.instances {
        bail!(
            "--active ({}) exceeds --instances ({})",
            o.active,
            o.instances
        );
    }
    Ok(o)
}

fn main() -> Result<()> {
    let o = options()?;
    let report = match o.child.as_deref() {
        Some("sandbox-pooling") => sandbox(&o, true, false)?,
        Some("sandbox-on-demand") => sandbox(&o, false, false)?,
        Some("sandbox-pooling-separate-loads") => sandbox(&o, true, true)?,
        Some("host") => host(&o)?,
        Some("host-active-only") => host(&Options {
            instances: o.active,
            ..o.clone()
        })?,
        Some(other) => bail!("unknown scenario {other}"),
        None => return parent(&o),
    };
    // The parent reads the last line of stdout.
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Runs each scenario in a child process and writes the combined report.
fn parent(o: &Options) -> Result<()> {
    if std::env::var("STREAMPLUG_TEST_BROKERS").map_or(true, |b| b.is_empty()) {
        bail!(
            "STREAMPLUG_TEST_BROKERS is not set: start a broker with `tests/kafka/broker.sh start` \
             and export STREAMPLUG_TEST_BROKERS=$(tests/kafka/broker.sh bootstrap)"
        );
    }
    let load_start = streamplug_tests::loadavg();
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut scenarios = serde_json::Map::new();
    for scenario in SCENARIOS {
        eprintln!("density: {scenario} ...");
        let out = Command::new(&exe)
            .args(["--child", scenario])
            .args(["--instances", &o.instances.to_string()])
            .args(["--active", &o.active.to_string()])
            .args(["--seconds", &o.seconds.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run the {scenario} scenario"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("the {scenario} scenario failed ({}): {stdout}", out.status);
        }
        let line = stdout.lines().last().unwrap_or_default();
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("the {scenario} scenario printed no report: {stdout}"))?;
        eprintln!("density: {scenario}: {v}");
        scenarios.insert(scenario.into(), v);
    }
    let report = json!({
        "what": "plugin instances in one host process: RSS, start time per instance, and the throughput of the active ones",
        "command": "cargo run --release -p streamplug-tests --bin density",
        "instances": o.instances,
        "active": o.active,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg_start": load_start,
        "loadavg_end": streamplug_tests::loadavg(),
        "scenarios": scenarios,
    });
    streamplug_tests::write_report(&o.out, &report)?;
    Ok(())
}

/// This process's memory, in KiB, from /proc/self/status.
fn memory() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    // VmRSS counts a file page once per mapping of it; PSS counts it once,
    // which matters when one artifact file is mapped many times.
    let pss = std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        });
    json!({
        "vm_rss_kib": field("VmRSS"),
        "pss_kib": pss,
        "vm_hwm_kib": field("VmHWM"),
        "rss_anon_kib": field("RssAnon"),
        "rss_file_kib": field("RssFile"),
        "threads": field("Threads"),
    })
}

fn kib(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One started instance, kept alive.
enum Instance {
    Source(SourceInstance),
    Transform(TransformInstance),
}

/// `separate_loads`: load each instance's plugin anew instead of sharing
/// one loaded component per file.
fn sandbox(o: &Options, pooling: bool, separate_loads: bool) -> Result<Value> {
    let engine = engine::build(pooling)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, CompileCache::default_dir());
    let datagen = plugin::load(&engine, &linker, &cache, artifacts::DATAGEN.as_ref())?;
    let passthrough = plugin::load(
        &engine,
        &linker,
        &cache,
        artifacts::TEST_PASSTHROUGH.as_ref(),
    )?;
    let name = Arc::new(streamplug::plugin::PluginLog::new("density", None));
    let limits = PluginLimits::default();
    let none = Capabilities::default();
    // Idle: one record per 1,000 s, so every poll after the first is idle.
    let idle_cfg = settings(&[("rate", "0.001"), ("value_size", "100")]);
    let no_cfg = Vec::new();

    // A batch for the transforms' one call, made by a source that is
    // dropped before the measurement starts.
    let input = {
        let mut src = SourceInstance::start(
            &engine,
            &datagen,
            name.clone(),
            limits,
            &none,
            &settings(&[("value_size", "100")]),
            None,
        )
        .map_err(|e| anyhow::anyhow!("cannot start datagen: {e}"))?;
        match src
            .poll(16, u64::MAX)
            .map_err(|e| anyhow::anyhow!("datagen: {e}"))?
        {
            PollResult::Records(p) => p.records,
            _ => bail!("datagen returned no records"),
        }
    };

    let before = memory();
    let mut live = Vec::with_capacity(o.instances);
    let mut loaded = Vec::new();
    let mut start_us = Vec::with_capacity(o.instances);
    let mut load_time = Duration::ZERO;
    let all = Instant::now();
    for i in 0..o.instances {
        let file = if i % 2 == 0 { &datagen } else { &passthrough };
        let plugin = if separate_loads {
            let t = Instant::now();
            let p = plugin::load(&engine, &linker, &cache, &file.path)?;
            load_time += t.elapsed();
            p
        } else {
            file.clone()
        };
        let t = Instant::now();
        let started = if i % 2 == 0 {
            SourceInstance::start(
                &engine,
                &plugin,
                name.clone(),
                limits,
                &none,
                &idle_cfg,
                None,
            )
            .map(Instance::Source)
        } else {
            TransformInstance::start(&engine, &plugin, name.clone(), limits, &none, &no_cfg, None)
                .map(Instance::Transform)
        };
        start_us.push(t.elapsed().as_secs_f64() * 1e6);
        loaded.push(plugin);
        match started {
            Ok(instance) => live.push(instance),
            Err(e) => bail!("instance {} of {} did not start: {e}", i + 1, o.instances),
        }
    }
    // Instantiation only: separate loads are timed apart.
    let total = all.elapsed() - load_time;
    let started = memory();
    for instance in &mut live {
        match instance {
            Instance::Source(s) => {
                s.poll(16, u64::MAX)
                    .map_err(|e| anyhow::anyhow!("idle datagen: {e}"))?;
            }
            Instance::Transform(t) => {
                t.process(&input)
                    .map_err(|e| anyhow::anyhow!("passthrough: {e}"))?;
            }
        }
    }
    let called = memory();
    let n = o.instances as f64;
    let per_instance = |after: &Value| (kib(after, "vm_rss_kib") - kib(&before, "vm_rss_kib")) / n;
    start_us.sort_by(f64::total_cmp);
    let pct = |p: f64| start_us[((start_us.len() - 1) as f64 * p).round() as usize];
    Ok(json!({
        "pooling_allocator": pooling,
        "instances": o.instances,
        "mix": "idle datagen sources and passthrough transforms, alternating",
        "components_loaded": if separate_loads { o.instances } else { 2 },
        "load_ms_per_instance": (load_time.as_secs_f64() * 1e3 / n),
        "start_us_per_instance": {
            "mean": total.as_secs_f64() * 1e6 / n,
            "p50": pct(0.5),
            "p99": pct(0.99),
            "max": pct(1.0),
        },
        "start_total_s": total.as_secs_f64(),
        "memory_before": before,
        "memory_after_start": started,
        "memory_after_one_call_each": called,
        "rss_kib_per_instance_after_start": per_instance(&started),
        "rss_kib_per_instance_after_one_call": per_instance(&called),
    }))
}

/// High watermarks of `topic`'s partitions, summed.
fn records_in(watcher: &BaseConsumer, topic: &str, partitions: i32) -> u64 {
    (0..partitions)
        .map(|p| {
            watcher
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map_or(0, |(_, h)| h.max(0) as u64)
        })
        .sum()
}

fn host(o: &Options) -> Result<Value> {
    let brokers = streamplug_tests::brokers();
    let idle_pipelines = (o.instances - o.active) / 2;
    // An odd remainder: one more idle source, without a transform.
    let lone_idle = (o.instances - o.active) % 2 == 1;
    let active_topic = unique_topic("density-active");
    let idle_topic = unique_topic("density-idle");
    let mut text = format!(
        "[kafka]\nbrokers = \"{brokers}\"\n\
         [runtime]\npooling_allocator = true\nwatch = false\n"
    );
    for i in 0..o.active {
        text += &format!(
            "[[source]]\nname = \"active-{i}\"\nwasm = \"{}\"\ntopic = \"{active_topic}\"\npartitions = {ACTIVE_PARTITIONS}\n\
             [source.config]\nvalue_size = 100\n",
            artifacts::DATAGEN
        );
    }
    for i in 0..idle_pipelines + usize::from(lone_idle) {
        let transform = if i < idle_pipelines {
            format!("transforms = [\"idle-tf-{i}\"]\n")
        } else {
            String::new()
        };
        text += &format!(
            "[[source]]\nname = \"idle-{i}\"\nwasm = \"{}\"\ntopic = \"{idle_topic}\"\n{transform}\
             [source.config]\nrate = 0.001\nvalue_size = 100\n",
            artifacts::DATAGEN
        );
        if i < idle_pipelines {
            text += &format!(
                "[[transform]]\nname = \"idle-tf-{i}\"\nwasm = \"{}\"\n",
                artifacts::TEST_PASSTHROUGH
            );
        }
    }
    let config = Config::parse(&text, Path::new("density.toml"))?;
    let idle_sources = (idle_pipelines + usize::from(lone_idle)) as u64;
    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .context("cannot create the watermark reader")?;

    let before = memory();
    let stop = Arc::new(Stop::default());
    let started = Instant::now();
    let runner = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("runtime".into())
            .spawn(move || streamplug::runtime::run_until(&config, stop, false))
            .context("cannot start the runtime thread")?
    };
    // Every idle pipeline's first record has passed its source and its
    // transform: all idle instances are live. (Only the active sources'
    // first record is waited for: they start at the same time.)
    let limit = Duration::from_secs(300);
    let wait_active = u64::from(o.active > 0);
    loop {
        if records_in(&watcher, &idle_topic, 1) >= idle_sources
            && records_in(&watcher, &active_topic, ACTIVE_PARTITIONS) >= wait_active
        {
            break;
        }
        if runner.is_finished() || started.elapsed() > limit {
            stop.raise();
            let outcome = runner.join();
            bail!(
                "not every instance became live within {limit:?} (the runtime ended: {:?})",
                outcome.map(|r| r.map(|_| ()))
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let all_live_s = started.elapsed().as_secs_f64();
    let live = memory();
    // A second to settle, then the window.
    std::thread::sleep(Duration::from_secs(1));
    let first = records_in(&watcher, &active_topic, ACTIVE_PARTITIONS);
    let window_start = Instant::now();
    let mut peak_rss = 0.0f64;
    while window_start.elapsed() < Duration::from_secs(o.seconds) {
        std::thread::sleep(Duration::from_millis(100));
        peak_rss = peak_rss.max(kib(&memory(), "vm_rss_kib"));
    }
    let last = records_in(&watcher, &active_topic, ACTIVE_PARTITIONS);
    let window = window_start.elapsed().as_secs_f64();
    let during = memory();
    stop.raise();
    let summary = runner
        .join()
        .map_err(|_| anyhow::anyhow!("the runtime thread panicked"))??;
    let after = memory();

    let plugins = summary.plugins.len();
    let restarts: u64 = summary.plugins.values().map(|p| p.restarts).sum();
    let failed: u64 = summary.plugins.values().map(|p| p.failed).sum();
    let gave_up = summary.plugins.values().filter(|p| p.gave_up).count();
    let active_delivered: Vec<u64> = (0..o.active)
        .filter_map(|i| {
            summary
                .plugins
                .get(&format!("active-{i}"))
                .map(|p| p.delivered)
        })
        .collect();
    let rate = (last - first) as f64 / window;
    Ok(json!({
        "pooling_allocator": true,
        "instances": o.instances,
        "mix": format!(
            "{} active datagen sources; {idle_pipelines} idle pipelines of datagen (rate 0.001/s) -> passthrough{}",
            o.active,
            if lone_idle { "; 1 idle datagen alone" } else { "" }
        ),
        "plugins_in_summary": plugins,
        "restarts": restarts,
        "failed_records": failed,
        "gave_up": gave_up,
        "all_live_s": all_live_s,
        "all_live_note": "from starting the runtime (loading every plugin, connecting, creating topics, \
                          starting one pipeline thread per source) until each idle pipeline's first record, \
                          and the active sources' first, was acknowledged",
        "memory_before": before,
        "memory_all_live": live,
        "memory_end_of_window": during,
        "peak_vm_rss_kib_in_window": peak_rss,
        "memory_after_shutdown": after,
        "active": {
            "sources": o.active,
            "value_bytes": 100,
            "window_s": window,
            "records_per_s_total": rate,
            "records_per_s_per_source": rate / o.active.max(1) as f64,
            "delivered_per_source_whole_run": active_delivered,
        },
    }))
}
