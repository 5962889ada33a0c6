//! A broker outage in the middle of a run: the real broker is stopped for
//! 30 s and started again. The host keeps running, its sources wait within
//! their in-flight caps, memory stays bounded, and every record arrives,
//! once, whether through the shared producer or an exactly-once source's.
//! (Alone in its own test binary: it takes the shared test broker down.)

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, read_summary, spawn_run, unique_topic,
    wait_with_limit,
};

const RECORDS: u64 = 150_000;

fn broker(command: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/kafka/broker.sh");
    let status = Command::new(script)
        .arg(command)
        .status()
        .expect("broker.sh");
    assert!(status.success(), "broker.sh {command} failed");
}

fn reachable() -> bool {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("client");
    probe.fetch_metadata(None, Duration::from_secs(3)).is_ok()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_30_second_broker_outage_loses_nothing() {
    let dir = Scratch::new("outage");
    let topic = unique_topic("outage");
    let eos_topic = unique_topic("outage-eos");
    // The same source twice: through the shared producer, and exactly-once
    // (its transaction's commit waits the outage out).
    let source = |name: &str, topic: &str, delivery: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 500\n\
             max_in_flight_records = 5000\ndelivery = \"{delivery}\"\n\
             [source.config]\ncount = {RECORDS}\nrate = 5000\ntimestamp = \"none\"\n",
            artifacts::DATAGEN
        )
    };
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\ntopic = \"{}\"\n{}{}",
        brokers(),
        unique_topic("outage-checkpoints"),
        source("gen", &topic, "at_least_once"),
        source("gen-eos", &eos_topic, "exactly_once"),
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut child = spawn_run(&path, &summary, dir.path());
    std::thread::sleep(Duration::from_secs(4));
    let before = rss_kib(child.id());

    broker("stop");
    assert!(
        !reachable(),
        "the broker this test stopped is the one it uses"
    );
    let down_at = Instant::now();
    let mut peak = before;
    while down_at.elapsed() < Duration::from_secs(30) {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the host keeps running"
        );
        peak = peak.max(rss_kib(child.id()));
        std::thread::sleep(Duration::from_millis(500));
    }
    broker("start");

    let status = wait_with_limit(&mut child, Duration::from_secs(180));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    let s = read_summary(&summary);
    for name in ["gen", "gen-eos"] {
        assert_eq!(counter(&s, name, "delivered"), RECORDS, "{s}");
        assert_eq!(counter(&s, name, "failed"), 0, "{s}");
        assert!(
            counter(&s, name, "peak_in_flight") <= 5_000 + 500,
            "paused within its cap: {s}"
        );
    }
    eprintln!("RSS {before} KiB before the outage, at most {peak} KiB during it");
    assert!(
        peak <= before + 64 * 1024,
        "memory grew from {before} to {peak} KiB"
    );

    for (name, topic) in [("gen", &topic), ("gen-eos", &eos_topic)] {
        let records = consume_all(&brokers(), topic, Duration::from_secs(1)).expect("consume");
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for r in &records {
            *seen.entry(r.seq()).or_default() += 1;
        }
        let missing = (0..RECORDS).filter(|n| !seen.contains_key(n)).count();
        assert_eq!(missing, 0, "{name}: records missing after the outage");
        let duplicates = records.len() as u64 - RECORDS;
        eprintln!(
            "{name}: {} records, {duplicates} duplicates, {} aborted",
            records.len(),
            counter(&s, name, "aborted")
        );
        assert_eq!(
            duplicates, 0,
            "{name}: retried without duplicates (idempotent producer, or the transaction)"
        );
    }
}
