//! Issue 5's figures: what delivery guarantees cost, measured against the
//! real broker in one run with the modes interleaved:
//! - no `[checkpoints]` (nothing survives the process);
//! - checkpoints in Kafka, at-least-once (the default);
//! - exactly-once (a transactional producer, checkpoint in the transaction).
//!
//! Each run is one `datagen` source making N records of 100 bytes to a
//! fresh 6-partition topic. Its rate is measured at the broker: the records'
//! CreateTime (the producer stamps the send time) from the first to the
//! last, read back with `read_committed`, so process start-up (an
//! exactly-once producer registers with the cluster first) is not counted,
//! and the pauses while a transaction commits are.
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin delivery-bench -- [--records N] [--rounds R] [OUT.json]`
//! (needs `cargo build --release -p streamplug` first). Writes
//! `tests/bench-results/delivery.json` by default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use streamplug_tests::{
    Scratch, artifacts, brokers, loadavg, read_summary, run_to_end, unique_topic,
};

const PARTITIONS: i32 = 6;

#[derive(Clone, Copy)]
enum Mode {
    Off,
    AtLeastOnce,
    ExactlyOnce,
}

const MODES: [Mode; 3] = [Mode::Off, Mode::AtLeastOnce, Mode::ExactlyOnce];

impl Mode {
    fn id(self) -> &'static str {
        match self {
            Mode::Off => "checkpoints off",
            Mode::AtLeastOnce => "checkpoints on, at-least-once",
            Mode::ExactlyOnce => "exactly-once",
        }
    }

    fn config(self, topic: &str, records: u64) -> String {
        let (checkpoints, delivery) = match self {
            Mode::Off => (String::new(), "at_least_once"),
            Mode::AtLeastOnce => (checkpoints(), "at_least_once"),
            Mode::ExactlyOnce => (checkpoints(), "exactly_once"),
        };
        format!(
            "[kafka]\nbrokers = \"{}\"\n{checkpoints}\
             [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\npartitions = {PARTITIONS}\n\
             delivery = \"{delivery}\"\n[source.config]\ncount = {records}\ntimestamp = \"none\"\n",
            brokers(),
            artifacts::DATAGEN
        )
    }
}

fn checkpoints() -> String {
    format!(
        "[checkpoints]\nstore = \"kafka\"\ntopic = \"{}\"\n",
        unique_topic("bench-checkpoints")
    )
}

fn main() -> Result<()> {
    let mut records: u64 = 1_000_000;
    let mut rounds = 3;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/delivery.json");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => records = args.next().context("--records N")?.parse()?,
            "--rounds" => rounds = args.next().context("--rounds R")?.parse()?,
            other if !other.starts_with('-') => out = PathBuf::from(other),
            other => bail!("unknown option {other}"),
        }
    }
    let load_before = loadavg();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut transactions = vec![0u64; MODES.len()];
    for round in 0..rounds {
        for (i, mode) in MODES.iter().enumerate() {
            let dir = Scratch::new("delivery-bench");
            let topic = unique_topic("delivery-bench");
            let config = dir.write("config.toml", &mode.config(&topic, records));
            let summary = dir.path().join("summary.json");
            let output = run_to_end(&config, &summary);
            ensure!(
                output.status.success(),
                "{} failed:\n{}",
                mode.id(),
                String::from_utf8_lossy(&output.stderr)
            );
            let s = read_summary(&summary);
            let delivered = s["plugins"]["gen"]["delivered"].as_u64().unwrap_or(0);
            ensure!(
                delivered == records,
                "{}: {delivered} of {records} delivered",
                mode.id()
            );
            transactions[i] += s["plugins"]["gen"]["transactions"].as_u64().unwrap_or(0);
            let (count, first, last) = create_time_span(&topic)?;
            ensure!(
                count == records,
                "{}: {count} of {records} read back",
                mode.id()
            );
            let rate = records as f64 / ((last - first).max(1) as f64 / 1000.0);
            println!(
                "round {}: {:32} {:>9.0} records/s",
                round + 1,
                mode.id(),
                rate
            );
            rates[i].push(rate);
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let m: Vec<f64> = rates.iter().map(|r| median(r)).collect();
    let result = json!({
        "records": records,
        "value_bytes": 100,
        "partitions": PARTITIONS,
        "rounds": rounds,
        "checkpoint_interval_ms": 200,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "modes": MODES.iter().enumerate().map(|(i, mode)| json!({
            "mode": mode.id(),
            "records_per_second_median": m[i].round(),
            "records_per_second_rounds": rates[i].iter().map(|r| r.round()).collect::<Vec<_>>(),
            "transactions_per_run": transactions[i] / rounds as u64,
        })).collect::<Vec<_>>(),
        "ratios": {
            "at_least_once_checkpoints_vs_off": m[1] / m[0],
            "exactly_once_vs_at_least_once": m[2] / m[1],
            "exactly_once_vs_off": m[2] / m[0],
        },
    });
    println!(
        "checkpoints on / off: {:.2} (target >= 0.95); exactly-once / at-least-once: {:.2}",
        m[1] / m[0],
        m[2] / m[1]
    );
    std::fs::write(&out, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Records in `topic` (committed ones), and the first and last CreateTime.
fn create_time_span(topic: &str) -> Result<(u64, i64, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "streamplug-delivery-bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .context("cannot create the consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (mut count, mut first, mut last) = (0u64, i64::MAX, i64::MIN);
    let mut at_end = 0;
    let mut idle = 0;
    while at_end < PARTITIONS {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = 0;
                count += 1;
                let ts = m
                    .timestamp()
                    .to_millis()
                    .context("a record without a timestamp")?;
                first = first.min(ts);
                last = last.max(ts);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
            Some(Err(e)) => bail!("reading `{topic}`: {e}"),
            None => {
                idle += 1;
                ensure!(idle < 150, "nothing from `{topic}` for 30 s");
            }
        }
    }
    Ok((count, first, last))
}
