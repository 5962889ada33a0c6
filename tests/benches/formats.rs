//! Per-record cost of each record format (issue 16, item 8): what the host
//! does to one value of 100 B and of 1 KiB before it is produced.
//!
//! - `bytes`: nothing (the pipeline skips the step), for reference: 0.
//! - `json`: the check that the value is JSON.
//! - `avro-json`: the plugin's JSON checked against the schema and written
//!   as Avro binary, with the 5-byte Confluent frame.
//! - `avro-binary`: the plugin's Avro binary checked by decoding it.
//!
//! `cargo bench -p streamplug-tests --bench formats` writes
//! `tests/bench-results/formats.json` from criterion's estimates.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use criterion::{BenchmarkId, Criterion, Throughput};
use serde_json::json;
use streamplug::format::avro::AvroSchema;

const SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
  {"name":"seq","type":"long"},{"name":"kind","type":"string"},{"name":"pad","type":"string"}]}"#;

const SIZES: [usize; 2] = [100, 1024];

/// datagen's JSON value of `size` bytes (`format = "json"`).
fn value(size: usize) -> Vec<u8> {
    let bare = r#"{"seq":123456,"kind":"click","pad":""}"#;
    let pad = "x".repeat(size.saturating_sub(bare.len()));
    format!(r#"{{"seq":123456,"kind":"click","pad":"{pad}"}}"#).into_bytes()
}

fn main() -> Result<()> {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let schema = AvroSchema::parse(SCHEMA).map_err(anyhow::Error::msg)?;
    let mut g = c.benchmark_group("formats");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        let v = value(size);
        let mut binary = Vec::new();
        schema
            .encode_json(&v, &mut binary)
            .map_err(anyhow::Error::msg)?;
        g.bench_with_input(BenchmarkId::new("json", size), &v, |b, v| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(v).map(|_| ()))
        });
        let mut out = Vec::with_capacity(size + 16);
        g.bench_with_input(BenchmarkId::new("avro-json", size), &v, |b, v| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(&[0, 0, 0, 0, 1]);
                schema.encode_json(v, &mut out)
            })
        });
        g.bench_with_input(BenchmarkId::new("avro-binary", size), &binary, |b, v| {
            b.iter(|| schema.check_binary(v))
        });
    }
    g.finish();
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        summary()?;
    }
    Ok(())
}

fn summary() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/formats");
    let mut ns = serde_json::Map::new();
    for f in ["json", "avro-json", "avro-binary"] {
        let mut per = serde_json::Map::new();
        for size in SIZES {
            let p = root
                .join(f)
                .join(size.to_string())
                .join("new/estimates.json");
            let est: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            )?;
            let point = est["slope"]["point_estimate"]
                .as_f64()
                .or_else(|| est["mean"]["point_estimate"].as_f64())
                .unwrap_or(f64::NAN);
            per.insert(format!("{size}B"), json!((point * 10.0).round() / 10.0));
        }
        ns.insert(f.to_string(), serde_json::Value::Object(per));
    }
    let report = json!({
        "what": "per-record cost of each value format (tests/benches/formats.rs), criterion estimates",
        "command": "cargo bench -p streamplug-tests --bench formats",
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg": streamplug_tests::loadavg(),
        "ns_per_record": ns,
        "note": "bytes costs nothing: the step is skipped. avro-json includes writing the 5-byte frame",
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results/formats.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("summary written to {}", out.display());
    Ok(())
}
