//! Measures what each plugin stage costs per record, through the host's own
//! sandbox (wasmtime call, batch lowering and lifting, the plugin's work),
//! at batch sizes 256 and 1024 with 100-byte values.
//!
//! `cargo run --release -p streamplug-tests --bin stage-cost [OUT.json]`
//! prints a table and writes JSON (default `tests/bench-results/stage-cost.json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use streamplug::config::{Capabilities, PluginLimits};
use streamplug::engine;
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{
    self, CompileCache, PartitionerInstance, SourceInstance, TransformInstance,
};
use streamplug_codec::BatchReader;
use streamplug_tests::artifacts;

/// Records measured per stage and batch size.
const RECORDS: usize = 2_000_000;

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/stage-cost.json")
        });
    let engine = engine::build(true)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, std::env::temp_dir().join("streamplug-bench-cache"));
    let load = |path: &str| plugin::load(&engine, &linker, &cache, path.as_ref());
    let limits = PluginLimits::default();
    let none = Capabilities::default();
    let name = Arc::new(streamplug::plugin::PluginLog::new("bench", None));

    let datagen = load(artifacts::DATAGEN)?;
    let passthrough = load(artifacts::TEST_PASSTHROUGH)?;
    let keyhash = load(artifacts::KEYHASH_PARTITIONER)?;
    let json_filter = load(artifacts::JSON_FILTER)?;

    let mut rows = Vec::new();
    for batch in [256u32, 1024] {
        let calls = RECORDS / batch as usize;
        let bytes_cfg = settings(&[("value_size", "100"), ("timestamp", "1700000000000")]);
        let json_cfg = settings(&[
            ("value_size", "100"),
            ("format", "json"),
            ("timestamp", "1700000000000"),
        ]);

        let mut source = SourceInstance::start(
            &engine,
            &datagen,
            name.clone(),
            limits,
            &none,
            &bytes_cfg,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let sample = poll_batch(&mut source, batch)?;
        let t = Instant::now();
        for _ in 0..calls {
            poll_batch(&mut source, batch)?;
        }
        let datagen_ns = per_record(t, calls, batch);

        let t = Instant::now();
        for _ in 0..calls {
            let n = BatchReader::new(&sample)?.validate()?;
            assert_eq!(n, batch);
        }
        let decode_ns = per_record(t, calls, batch);

        let mut pass = TransformInstance::start(
            &engine,
            &passthrough,
            name.clone(),
            limits,
            &none,
            &Vec::new(),
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        for _ in 0..calls {
            pass.process(&sample).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let passthrough_ns = per_record(t, calls, batch);

        let mut part = PartitionerInstance::start(
            &engine,
            &keyhash,
            name.clone(),
            limits,
            &none,
            &Vec::new(),
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        for _ in 0..calls {
            part.partition("bench", 12, &sample)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let keyhash_ns = per_record(t, calls, batch);

        let mut json_source = SourceInstance::start(
            &engine,
            &datagen,
            name.clone(),
            limits,
            &none,
            &json_cfg,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let json_sample = poll_batch(&mut json_source, batch)?;
        let filter_cfg = settings(&[("field", "kind"), ("values", "buy")]);
        let mut filter = TransformInstance::start(
            &engine,
            &json_filter,
            name.clone(),
            limits,
            &none,
            &filter_cfg,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        for _ in 0..calls {
            filter
                .process(&json_sample)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let json_filter_ns = per_record(t, calls, batch);

        rows.push(json!({
            "batch": batch,
            "value_bytes": 100,
            "ns_per_record": {
                "datagen poll-records": datagen_ns,
                "passthrough process": passthrough_ns,
                "keyhash-partitioner partition": keyhash_ns,
                "json-filter process": json_filter_ns,
                "host batch validation": decode_ns,
            }
        }));
    }

    println!(
        "{:<32} {:>10} {:>10}",
        "ns/record (100-byte values)", "batch 256", "batch 1024"
    );
    for stage in [
        "datagen poll-records",
        "passthrough process",
        "keyhash-partitioner partition",
        "json-filter process",
        "host batch validation",
    ] {
        println!(
            "{stage:<32} {:>10.1} {:>10.1}",
            rows[0]["ns_per_record"][stage].as_f64().unwrap_or(f64::NAN),
            rows[1]["ns_per_record"][stage].as_f64().unwrap_or(f64::NAN)
        );
    }
    let report = json!({
        "what": "cost per record of each plugin stage through the host sandbox (wasmtime call, lowering, lifting, plugin work)",
        "records_per_measurement": RECORDS,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "results": rows,
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("written to {}", out.display());
    Ok(())
}

fn poll_batch(source: &mut SourceInstance, batch: u32) -> Result<Vec<u8>> {
    match source
        .poll(batch, u64::MAX)
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        PollResult::Records(p) => Ok(p.records),
        _ => bail!("datagen did not return records"),
    }
}

fn per_record(started: Instant, calls: usize, batch: u32) -> f64 {
    started.elapsed().as_nanos() as f64 / (calls as f64 * f64::from(batch))
}
