//! Issue 3's figures, measured against the real broker:
//! - the healthy tenant's throughput beside each hostile plugin, as a ratio
//!   to its throughput alone, measured in one run with the cases interleaved;
//! - quota accuracy: a source limited to R records/s over 30 s.
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin isolation-bench [OUT.json]`
//! (needs `cargo build --release -p streamplug` first). Writes
//! `tests/bench-results/isolation.json` by default.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use streamplug_tests::{
    Scratch, artifacts, brokers, read_summary, sigterm, spawn_run, unique_topic, wait_with_limit,
};

const HEALTHY_RECORDS: u64 = 1_000_000;
const QUOTA: u64 = 10_000;
const QUOTA_SECONDS: u64 = 30;

/// The hostile neighbours: a name, its `[[source]]` (plus any
/// `[[transform]]`) in tenant `bad`, writing to `{out}`, and any quota of
/// tenant `bad`.
fn hostiles() -> Vec<(&'static str, String, &'static str)> {
    let src = |wasm: &str, extra: &str| {
        format!(
            "[[source]]\nname = \"hostile\"\ntenant = \"bad\"\nwasm = \"{wasm}\"\ntopic = \"{{out}}\"\n{extra}\n"
        )
    };
    let flood = format!(
        "{}transforms = [\"flood\"]\n[source.config]\nvalue_size = 10\n\
         [[transform]]\nname = \"flood\"\ntenant = \"bad\"\nwasm = \"{}\"\n[transform.config]\nfactor = 5000\n",
        src(
            artifacts::DATAGEN,
            "batch_size = 1\nmax_in_flight_records = 20000"
        ),
        artifacts::TEST_FANOUT
    );
    vec![
        ("infinite loop", src(artifacts::TEST_INFINITE_LOOP, ""), ""),
        (
            "infinite loop, cpu_ms_per_second = 100",
            src(
                artifacts::TEST_INFINITE_LOOP,
                "limits = { cpu_ms_per_second = 100 }",
            ),
            "",
        ),
        ("memory bomb", src(artifacts::TEST_MEMORY_BOMB, ""), ""),
        (
            "panic on record 1000",
            src(artifacts::TEST_PANIC_ON_NTH, ""),
            "",
        ),
        ("malformed output", src(artifacts::TEST_BAD_OUTPUT, ""), ""),
        (
            "very slow (300 ms CPU per poll)",
            src(artifacts::TEST_SLOW, ""),
            "",
        ),
        ("fan-out 1:5000", flood.clone(), ""),
        // A tenant at its limit: the same flood, held to a tenant quota.
        (
            "fan-out 1:5000, tenant quota 100k rec/s",
            flood,
            "quota = { records_per_second = 100000 }",
        ),
        (
            "writes to the other tenant's topic",
            format!(
                "{}transforms = [\"reroute\"]\n[[transform]]\nname = \"reroute\"\ntenant = \"bad\"\nwasm = \"{}\"\n\
                 [transform.config]\nroute_topic = \"{{good}}-not-yours\"\n",
                src(artifacts::DATAGEN, ""),
                artifacts::TEST_PASSTHROUGH
            ),
            "",
        ),
    ]
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/isolation.json")
        });
    let mut rows = Vec::new();
    for (name, hostile, bad_quota) in hostiles() {
        // Interleaved: the baseline is measured right before each case.
        let alone = healthy_rate(None, "")?;
        let beside = healthy_rate(Some(&hostile), bad_quota)?;
        let ratio = beside / alone;
        println!(
            "{name:<40} alone {alone:>9.0} rec/s  beside {beside:>9.0} rec/s  ratio {ratio:.2}"
        );
        rows.push(
            json!({ "hostile": name, "alone_rps": alone, "beside_rps": beside, "ratio": ratio }),
        );
    }
    let (delivered, seconds) = quota_run()?;
    let expected = (QUOTA * QUOTA_SECONDS) as f64;
    let accuracy = delivered as f64 / expected;
    println!(
        "quota {QUOTA} rec/s over {QUOTA_SECONDS} s: {delivered} records ({:.1}% of R·T; measured window {seconds:.2} s)",
        accuracy * 100.0
    );
    let report = json!({
        "what": "healthy tenant's throughput beside each hostile plugin (ratio to alone, interleaved), and quota accuracy",
        "healthy_records": HEALTHY_RECORDS,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "isolation": rows,
        "quota": { "records_per_second": QUOTA, "seconds": QUOTA_SECONDS, "delivered": delivered, "ratio_to_r_times_t": accuracy },
    });
    streamplug_tests::write_report(&out, &report)?;
    Ok(())
}

/// Records/s of a healthy datagen in tenant `good`, from its topic's first
/// record to its last (read from the high watermark), optionally beside a
/// hostile plugin in tenant `bad`.
fn healthy_rate(hostile: Option<&str>, bad_quota: &str) -> Result<f64> {
    let dir = Scratch::new("isolation-bench");
    let good = unique_topic("bench-good");
    let bad = unique_topic("bench-bad");
    let hostile = hostile
        .unwrap_or("")
        .replace("{out}", &format!("{bad}.out"))
        .replace("{good}", &good);
    let config = format!(
        "[kafka]\nbrokers = \"{brokers}\"\n[runtime]\nrestart_backoff_ms = 50\nrestart_backoff_max_ms = 400\nmax_restarts = 1000000\n\
         [[tenant]]\nname = \"good\"\ntopics = [\"{good}\"]\n\
         [[tenant]]\nname = \"bad\"\ntopics = [\"{bad}.*\"]\n{bad_quota}\n\
         [[source]]\nname = \"healthy\"\ntenant = \"good\"\nwasm = \"{datagen}\"\ntopic = \"{good}\"\n\
         [source.config]\ncount = {HEALTHY_RECORDS}\ntimestamp = \"none\"\n{hostile}",
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut child = spawn_run(&path, &summary, dir.path());
    let window = watch_topic(&good, HEALTHY_RECORDS, Duration::from_secs(120));
    sigterm(&child);
    wait_with_limit(&mut child, Duration::from_secs(120));
    let (first, last) = window?;
    Ok(HEALTHY_RECORDS as f64 / last.duration_since(first).as_secs_f64())
}

/// When `topic` got its first record and when it reached `count`.
fn watch_topic(topic: &str, count: u64, limit: Duration) -> Result<(Instant, Instant)> {
    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()?;
    let deadline = Instant::now() + limit;
    let mut first = None;
    while Instant::now() < deadline {
        let high = watcher
            .fetch_watermarks(topic, 0, Duration::from_secs(5))
            .map_or(0, |(_, h)| h.max(0) as u64);
        if high > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if high >= count {
            return Ok((first.unwrap_or_else(Instant::now), Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("topic {topic} did not reach {count} records within {limit:?}")
}

/// Delivered records of a source held to `QUOTA` records/s over
/// `QUOTA_SECONDS`, counted from its topic's first record.
fn quota_run() -> Result<(u64, f64)> {
    let dir = Scratch::new("quota-bench");
    let topic = unique_topic("bench-quota");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[[source]]\nname = \"limited\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 100\n\
         quota = {{ records_per_second = {QUOTA} }}\n[source.config]\ntimestamp = \"none\"\n",
        brokers(),
        artifacts::DATAGEN
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()?;
    let mut child = spawn_run(&path, &summary, dir.path());
    let high = |w: &BaseConsumer| {
        w.fetch_watermarks(&topic, 0, Duration::from_secs(5))
            .map_or(0, |(_, h)| h.max(0) as u64)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while high(&watcher) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the initial burst (one second's worth) pass: the window measures
    // the steady rate.
    std::thread::sleep(Duration::from_secs(2));
    let base = high(&watcher);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(QUOTA_SECONDS));
    let end = high(&watcher);
    let seconds = start.elapsed().as_secs_f64();
    sigterm(&child);
    wait_with_limit(&mut child, Duration::from_secs(60));
    let _ = read_summary(&summary);
    Ok((end - base, seconds))
}
