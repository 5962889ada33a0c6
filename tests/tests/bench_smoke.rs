//! Keeps the end-to-end bench (`src/bin/bench.rs`) working: a smoke run of a
//! few thousand records per case against the test broker. Benchmarks are not
//! tests, so nothing here checks a rate beyond "positive"; it checks that all
//! cases ran, unthrottled and paced, and that each case's topic holds exactly
//! the records asked for.

use std::process::Command;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use streamplug_tests::{Scratch, brokers};

const SMOKE_RECORDS: u64 = 2000;

#[test]
fn smoke_run_measures_every_case() {
    let dir = Scratch::new("bench-smoke");
    let out = dir.path().join("bench.json");
    let svg = dir.path().join("bench.svg");
    let run = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("--smoke")
        // Topics are left behind so that this test can count them itself.
        .arg("--keep-topics")
        .arg("--out")
        .arg(&out)
        .arg("--svg")
        .arg(&svg)
        .env("STREAMPLUG_TEST_BROKERS", brokers())
        .output()
        .expect("cannot run the bench binary");
    assert!(
        run.status.success(),
        "bench --smoke failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("no JSON"))
        .expect("the report is not JSON");
    assert_eq!(report["smoke"], true);

    let sizes = report["sizes"].as_array().expect("no sizes");
    let value_bytes: Vec<u64> = sizes
        .iter()
        .map(|s| s["value_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(value_bytes, [100, 1024]);

    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("consumer");
    let partitions = report["partitions"].as_i64().expect("partitions") as i32;
    for size in sizes {
        assert_eq!(size["records"].as_u64(), Some(SMOKE_RECORDS));
        let cases = size["cases"].as_array().expect("no cases");
        let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
        // Java 17 and the broker's jars are present wherever the tests run,
        // so ProducerPerformance (d) must have run too.
        assert_eq!(ids, ["a", "b", "c", "d", "e", "a-sys"], "{size}");
        let paced = &size["paced"];
        let paced_records = paced["records"].as_u64().expect("paced records");
        assert!(paced["rate"].as_u64().is_some_and(|r| r > 0), "{paced}");
        let paced_cases = paced["cases"].as_array().expect("no paced cases");
        let ids: Vec<&str> = paced_cases
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"], "{paced}");
        for case in paced_cases {
            for figure in ["latency_p50_ms", "latency_p99_ms", "latency_max_ms"] {
                assert!(
                    case["median"][figure].is_f64(),
                    "paced {}: no {figure}",
                    case["id"]
                );
            }
            for run in case["runs"].as_array().expect("runs") {
                assert_eq!(run["records_in_topic"].as_u64(), Some(paced_records));
            }
        }
        for case in cases {
            let m = &case["median"];
            for figure in [
                "records_per_s",
                "mb_per_s",
                "cpu_s_per_million",
                "peak_rss_mib",
            ] {
                let v = m[figure].as_f64().unwrap_or(f64::NAN);
                assert!(v > 0.0, "case {}: {figure} = {v}", case["id"]);
            }
            for figure in ["latency_p50_ms", "latency_p99_ms", "latency_max_ms"] {
                assert!(m[figure].is_f64(), "case {}: no {figure}", case["id"]);
            }
            assert!(
                (case["ratio_to_a"]["records_per_s"].as_f64().unwrap() - 1.0).abs() < 1e-9
                    || case["id"] != "a"
            );
            let runs = case["runs"].as_array().expect("runs");
            assert_eq!(runs.len(), 1, "one round in smoke mode");
            for run in runs {
                assert_eq!(run["records_in_topic"].as_u64(), Some(SMOKE_RECORDS));
                // Counted again here, independently of the bench.
                let topic = run["topic"].as_str().expect("topic");
                let total: i64 = (0..partitions)
                    .map(|p| {
                        let (low, high) = watcher
                            .fetch_watermarks(topic, p, Duration::from_secs(10))
                            .expect("watermarks");
                        high - low
                    })
                    .sum();
                assert_eq!(
                    total, SMOKE_RECORDS as i64,
                    "case {} topic {topic}",
                    case["id"]
                );
            }
        }
    }
    let chart = std::fs::read_to_string(&svg).expect("no chart");
    assert!(chart.starts_with("<svg") && chart.contains("Kafka ProducerPerformance"));
}
