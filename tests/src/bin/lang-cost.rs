//! Measures plugins written in each language with an SDK, through the host's
//! own sandbox: component size, cold compile and cached load, instantiation
//! (start + `setup`), memory per instance, and the cost per record of a
//! pass-through transform at batch 256 and 1024 with 100-byte values.
//!
//! `cargo run --release -p streamplug-tests --bin lang-cost [OUT.json]`
//! builds the plugins with `plugins/examples.sh` (installing toolchains on
//! first use), prints a table and writes JSON (default
//! `tests/bench-results/lang-cost.json`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use streamplug::config::{ByteSize, Capabilities, PluginLimits};
use streamplug::engine;
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{self, CompileCache, LoadedPlugin, SourceInstance, TransformInstance};
use streamplug_tests::{artifacts, langs};

/// Records pushed through each transform per batch size.
const RECORDS: usize = 200_000;
/// Instances started to measure start time and memory.
const INSTANCES: usize = 20;

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/lang-cost.json")
        });
    // Pass-through transforms: the test plugins that fail on call `n` never
    // fail with n = 0.
    let plugins = [
        ("Rust", artifacts::TEST_PASSTHROUGH.to_string(), None),
        ("C", langs::plugin("c-abort-on-call"), Some("0")),
        ("Python", langs::plugin("python-raise-on-call"), Some("0")),
        ("JavaScript", langs::plugin("js-throw-on-call"), Some("0")),
        ("Go", langs::plugin("go-passthrough"), Some("0")),
    ];
    let engine = engine::build(true)?;
    let linker = plugin::linker(&engine)?;
    let scratch = std::env::temp_dir().join(format!("streamplug-lang-cost-{}", std::process::id()));
    let load = |path: &Path, cache: &CompileCache| plugin::load(&engine, &linker, cache, path);
    let new_cache = |dir: PathBuf| CompileCache::new(&engine, dir);
    let start_source = |p: &Arc<LoadedPlugin>, config: &Vec<(String, String)>| {
        SourceInstance::start(
            &engine,
            p,
            Arc::new(plugin::PluginLog::new("datagen", None)),
            PluginLimits::default(),
            &Capabilities::default(),
            config,
            None,
        )
        .map_err(|e| anyhow!("{e}"))
    };
    let start_transform =
        |p: &Arc<LoadedPlugin>, limits: PluginLimits, config: &Vec<(String, String)>| {
            TransformInstance::start(
                &engine,
                p,
                Arc::new(plugin::PluginLog::new("measured", None)),
                limits,
                &Capabilities::default(),
                config,
                None,
            )
            .map_err(|e| anyhow!("{e}"))
        };
    let tools = Tools {
        load: &load,
        new_cache: &new_cache,
        start_source: &start_source,
        start_transform: &start_transform,
    };
    let samples = samples(&tools, &scratch)?;
    let mut rows = Vec::new();
    for (lang, path, n) in &plugins {
        let config: Vec<(String, String)> = n
            .map(|n| vec![("n".to_string(), n.to_string())])
            .unwrap_or_default();
        let row = measure(&tools, &scratch.join(lang), path, &config, &samples)
            .with_context(|| format!("measuring the {lang} plugin"))?;
        println!("{lang:<11} {row}");
        rows.push(json!({ "language": lang, "plugin": path, "measured": row }));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let report = json!({
        "what": "plugins per language through the host sandbox: pass-through transforms, 100-byte values",
        "records_per_measurement": RECORDS,
        "instances": INSTANCES,
        "loadavg": streamplug_tests::loadavg(),
        "results": rows,
    });
    streamplug_tests::write_report(&out, &report)?;
    Ok(())
}

/// What the measurements need of the engine, as closures (the engine's type
/// is wasmtime's, which this crate depends on only for its benches).
/// A plugin's config table.
type Settings = Vec<(String, String)>;
type StartSource<'a> = dyn Fn(&Arc<LoadedPlugin>, &Settings) -> Result<SourceInstance> + 'a;
type StartTransform<'a> =
    dyn Fn(&Arc<LoadedPlugin>, PluginLimits, &Settings) -> Result<TransformInstance> + 'a;

struct Tools<'a> {
    load: &'a dyn Fn(&Path, &CompileCache) -> Result<Arc<LoadedPlugin>>,
    new_cache: &'a dyn Fn(PathBuf) -> CompileCache,
    start_source: &'a StartSource<'a>,
    start_transform: &'a StartTransform<'a>,
}

/// Batches of 256 and 1024 datagen records (100-byte values).
fn samples(tools: &Tools<'_>, scratch: &Path) -> Result<Vec<(u32, Vec<u8>)>> {
    let cache = (tools.new_cache)(scratch.join("datagen-cache"));
    let datagen = (tools.load)(artifacts::DATAGEN.as_ref(), &cache)?;
    let config = vec![
        ("value_size".to_string(), "100".to_string()),
        ("timestamp".to_string(), "1700000000000".to_string()),
    ];
    let mut source = (tools.start_source)(&datagen, &config)?;
    let mut out = Vec::new();
    for batch in [256u32, 1024] {
        match source.poll(batch, u64::MAX).map_err(|e| anyhow!("{e}"))? {
            PollResult::Records(p) => out.push((batch, p.records)),
            _ => bail!("datagen made no batch"),
        }
    }
    Ok(out)
}

fn measure(
    tools: &Tools<'_>,
    cache_dir: &Path,
    path: &str,
    config: &[(String, String)],
    samples: &[(u32, Vec<u8>)],
) -> Result<serde_json::Value> {
    let size = std::fs::metadata(path)?.len();
    let cache = (tools.new_cache)(cache_dir.to_path_buf());
    let t = Instant::now();
    (tools.load)(path.as_ref(), &cache)?;
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let loaded = (tools.load)(path.as_ref(), &cache)?;
    let cached_ms = t.elapsed().as_secs_f64() * 1e3;

    // Headroom for the Python and JavaScript runtimes.
    let limits = PluginLimits {
        memory: ByteSize(512 << 20),
        ..PluginLimits::default()
    };
    let config = config.to_vec();
    let start = || (tools.start_transform)(&loaded, limits, &config);
    let rss_before = rss_kib()?;
    let t = Instant::now();
    let mut instances = (0..INSTANCES)
        .map(|_| start())
        .collect::<Result<Vec<_>>>()?;
    let start_us = t.elapsed().as_secs_f64() * 1e6 / INSTANCES as f64;
    for i in &mut instances {
        i.process(&samples[0].1).map_err(|e| anyhow!("{e}"))?;
    }
    let rss_per_instance_kib = (rss_kib()? - rss_before) / INSTANCES as f64;
    drop(instances);

    let mut per_record = serde_json::Map::new();
    let mut instance = start()?;
    for (batch, sample) in samples {
        let out = instance.process(sample).map_err(|e| anyhow!("{e}"))?;
        if &out != sample {
            bail!("the pass-through changed the batch");
        }
        let calls = RECORDS / *batch as usize;
        let t = Instant::now();
        for _ in 0..calls {
            instance.process(sample).map_err(|e| anyhow!("{e}"))?;
        }
        let ns = t.elapsed().as_nanos() as f64 / (calls as f64 * f64::from(*batch));
        per_record.insert(format!("batch {batch}"), json!((ns * 10.0).round() / 10.0));
    }
    Ok(json!({
        "component_bytes": size,
        "cold_compile_ms": cold_ms.round(),
        "cached_load_ms": (cached_ms * 100.0).round() / 100.0,
        "start_us": start_us.round(),
        "rss_per_instance_kib": rss_per_instance_kib.round(),
        "ns_per_record": per_record,
    }))
}

/// Resident memory of this process.
fn rss_kib() -> Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/self/status")
}
