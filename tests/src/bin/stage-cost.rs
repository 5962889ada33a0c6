//! Measures what each plugin stage costs per record, through the host's own
//! sandbox (wasmtime call, batch lowering and lifting, the plugin's work),
//! at batch sizes 256 and 1024 with 100-byte values; and the pass-through
//! transform of each language with an SDK (C, Python, JavaScript, Go; the
//! Rust `passthrough` above is the reference), built by `plugins/examples.sh`.
//!
//! `cargo run --release -p streamplug-tests --bin stage-cost [OUT.json]`
//! prints a table and writes JSON (default `tests/bench-results/stage-cost.json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use streamplug::config::{ByteSize, Capabilities, PluginLimits};
use streamplug::engine;
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{
    self, CompileCache, PartitionerInstance, SourceInstance, TransformInstance,
};
use streamplug_codec::BatchReader;
use streamplug_tests::{artifacts, langs};

/// Records measured per stage and batch size.
const RECORDS: usize = 2_000_000;
/// Records for the interpreted languages (about 20 us a record).
const INTERPRETED_RECORDS: usize = 200_000;

/// The pass-through transform of each language with an SDK: its stage name,
/// example name, config (the test plugins that fail on call `n` never fail
/// with n = 0) and records measured.
const LANGUAGES: [(&str, &str, &str, usize); 4] = [
    ("C pass-through process", "c-abort-on-call", "0", RECORDS),
    (
        "Python pass-through process",
        "python-raise-on-call",
        "0",
        INTERPRETED_RECORDS,
    ),
    (
        "JavaScript pass-through process",
        "js-throw-on-call",
        "0",
        INTERPRETED_RECORDS,
    ),
    ("Go pass-through process", "go-passthrough", "0", RECORDS),
];

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
    let load_start = streamplug_tests::loadavg();
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
    let languages = LANGUAGES
        .iter()
        .map(|(stage, example, n, records)| {
            let wasm = langs::plugin(example);
            let loaded = load(&wasm).with_context(|| format!("loading {wasm}"))?;
            Ok((*stage, loaded, settings(&[("n", n)]), *records))
        })
        .collect::<Result<Vec<_>>>()?;
    // The Python and JavaScript runtimes need more than the 64 MiB default
    // (see README, Microbenchmarks).
    let language_limits = PluginLimits {
        memory: ByteSize(1 << 30),
        ..limits
    };

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

        let mut ns_per_record = json!({
            "datagen poll-records": datagen_ns,
            "passthrough process": passthrough_ns,
            "keyhash-partitioner partition": keyhash_ns,
            "json-filter process": json_filter_ns,
            "host batch validation": decode_ns,
        });
        for (stage, loaded, config, records) in &languages {
            let mut pass = TransformInstance::start(
                &engine,
                loaded,
                name.clone(),
                language_limits,
                &none,
                config,
                None,
            )
            .map_err(|e| anyhow::anyhow!("{stage}: {e}"))?;
            // The first call pays for the runtime's warm-up; and a
            // pass-through returns its batch as it was.
            if pass.process(&sample).map_err(|e| anyhow::anyhow!("{e}"))? != sample {
                bail!("{stage} changed the batch");
            }
            let calls = records / batch as usize;
            let t = Instant::now();
            for _ in 0..calls {
                pass.process(&sample).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            ns_per_record[*stage] = json!(per_record(t, calls, batch));
        }
        rows.push(json!({
            "batch": batch,
            "value_bytes": 100,
            "ns_per_record": ns_per_record,
        }));
    }

    println!(
        "{:<34} {:>10} {:>10}",
        "ns/record (100-byte values)", "batch 256", "batch 1024"
    );
    let stages = [
        "datagen poll-records",
        "passthrough process",
        "keyhash-partitioner partition",
        "json-filter process",
        "host batch validation",
    ];
    for stage in stages.into_iter().chain(LANGUAGES.map(|l| l.0)) {
        println!(
            "{stage:<34} {:>10.1} {:>10.1}",
            rows[0]["ns_per_record"][stage].as_f64().unwrap_or(f64::NAN),
            rows[1]["ns_per_record"][stage].as_f64().unwrap_or(f64::NAN)
        );
    }
    let report = json!({
        "what": "cost per record of each plugin stage through the host sandbox (wasmtime call, lowering, lifting, plugin work)",
        "records_per_measurement": RECORDS,
        "records_per_measurement_python_javascript": INTERPRETED_RECORDS,
        "loadavg_at_start": load_start,
        "loadavg_at_end": streamplug_tests::loadavg(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "results": rows,
    });
    streamplug_tests::write_report(&out, &report)?;
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
