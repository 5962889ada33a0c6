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
use streamplug_tests::{Scratch, brokers, consume_all, datagen};

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

/// Runs `bench MODE --smoke --keep-topics` and returns its report.
fn smoke_versus(mode: &str, env: &[(&str, String)]) -> Value {
    let dir = Scratch::new("bench-versus-smoke");
    let out = dir.path().join("versus.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench"));
    cmd.arg(mode)
        .arg("--smoke")
        // Topics are left behind so that the test can read them itself.
        .arg("--keep-topics")
        .arg("--out")
        .arg(&out)
        .env("STREAMPLUG_TEST_BROKERS", brokers());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = cmd.output().expect("cannot run the bench binary");
    assert!(
        run.status.success(),
        "bench {mode} --smoke failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("no JSON"))
        .expect("the report is not JSON");
    assert_eq!(report["smoke"], true);
    report
}

/// Every case of one size, with its one run's topic read back whole.
fn cases_read_back(size: &Value) -> Vec<(String, Value, Vec<streamplug_tests::Consumed>)> {
    let records = size["records"].as_u64().expect("records");
    size["cases"]
        .as_array()
        .expect("no cases")
        .iter()
        .map(|case| {
            let id = case["id"].as_str().expect("id").to_string();
            let runs = case["runs"].as_array().expect("runs");
            assert_eq!(runs.len(), 1, "one round in smoke mode");
            for figure in ["records_per_s", "mb_per_s", "cpu_s_per_million"] {
                let v = case["median"][figure].as_f64().unwrap_or(f64::NAN);
                assert!(v > 0.0, "{id}: {figure} = {v}");
            }
            let topic = runs[0]["topic"].as_str().expect("topic");
            let read = consume_all(&brokers(), topic, Duration::from_millis(500)).expect("read");
            assert_eq!(read.len() as u64, records, "{id}: records in {topic}");
            (id, case.clone(), read)
        })
        .collect()
}

#[test]
fn large_values_smoke_run_gives_the_bare_loop_and_datagen_the_same_random_values() {
    let report = smoke_versus("--large", &[]);
    let sizes = report["sizes"].as_array().expect("no sizes");
    let bytes: Vec<u64> = sizes
        .iter()
        .map(|s| s["value_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(bytes, [100 * 1024, 1_000_000]);
    for size in sizes {
        let value_bytes = size["value_bytes"].as_u64().unwrap() as usize;
        let cases = cases_read_back(size);
        let ids: Vec<&str> = cases.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        // Both sides made datagen's random values, byte for byte: the
        // comparison is of the same work.
        for (id, _, read) in &cases {
            for r in read {
                let value = r.value.as_deref().expect("a value");
                assert!(
                    value == datagen::random_value(r.seq(), value_bytes),
                    "{id}: record {} is not datagen's random value of {value_bytes} bytes",
                    r.seq()
                );
            }
        }
    }
}

#[test]
fn formats_smoke_run_produces_registry_framed_avro_against_bytes() {
    let registry = streamplug_tests::registry::url();
    let report = smoke_versus("--formats", &[("STREAMPLUG_TEST_REGISTRY", registry)]);
    let sizes = report["sizes"].as_array().expect("no sizes");
    let bytes: Vec<u64> = sizes
        .iter()
        .map(|s| s["value_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(bytes, [100, 1024]);
    for size in sizes {
        let value_bytes = size["value_bytes"].as_u64().unwrap() as usize;
        let cases = cases_read_back(size);
        let ids: Vec<&str> = cases.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids, ["c-bytes", "c-json", "c-avro"]);
        for (id, case, read) in &cases {
            for r in read {
                let v = r.value.as_deref().expect("a value");
                match id.as_str() {
                    "c-bytes" => assert_eq!(v, datagen::bytes_value(r.seq(), value_bytes)),
                    "c-json" => {
                        let json: Value = serde_json::from_slice(v).expect("JSON");
                        assert_eq!(json["seq"].as_u64(), Some(r.seq()), "{id}");
                        assert_eq!(v.len(), value_bytes, "{id}");
                    }
                    _ => {
                        // Magic byte 0, then a schema id; no JSON left.
                        assert_eq!(v[0], 0, "{id}: record {} is not framed", r.seq());
                        assert_ne!(v[5], b'{', "{id}: record {} is JSON", r.seq());
                        assert!(v.len() < value_bytes, "{id}: {} bytes", v.len());
                    }
                }
            }
            if id == "c-avro" {
                // The size the report states is the size produced.
                let wire = case["value_bytes_on_wire"].as_u64().expect("wire bytes") as usize;
                let mid = read
                    .iter()
                    .find(|r| r.seq() == size["records"].as_u64().unwrap() / 2);
                let mid = mid.expect("the record the report sized");
                assert_eq!(mid.value.as_ref().map(Vec::len), Some(wire));
            }
        }
    }
}
