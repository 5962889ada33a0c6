//! Microbenchmarks (issue 6, item 2), through the host's own sandbox API:
//!
//! - `stage`: what each plugin stage costs per record at batch sizes 1, 16,
//!   256 and 1024 (100-byte values): the wasmtime call, lowering the batch
//!   in, lifting the result out, and the plugin's work. One iteration is one
//!   call with a whole batch.
//! - `instantiate-pooling`, `instantiate-on-demand`: one plugin instance
//!   made from its ready template (`InstancePre`), with and without the
//!   pooling allocator. `start` is the host's whole path
//!   (`SourceInstance::start`: WASI context, store, instantiate, `init`);
//!   `wasi-ctx`, `store`, `instantiate` and `init` are its steps, timed
//!   one by one to show what dominates.
//! - `compile`: a component compiled cold (into an empty cache: compile,
//!   write the artifact, load it) versus loaded from the cached artifact.
//!
//! `cargo bench -p streamplug-tests --bench micro` runs everything (a few
//! minutes on 2 cores) and then writes `tests/bench-results/micro.json`, a
//! summary made from criterion's own estimates
//! (`target/criterion/<group>/<bench>/<param>/new/estimates.json`). With a
//! filter (`cargo bench ... -- stage`) only what ran this time is
//! summarised. `STREAMPLUG_MICRO_JSON=PATH` writes the summary elsewhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::{Value, json};
use streamplug::config::{Capabilities, PluginLimits};
use streamplug::engine;
use streamplug::plugin::bindings::{PollResult, v0_2::source};
use streamplug::plugin::host::HostState;
use streamplug::plugin::{
    self, CompileCache, LoadedPlugin, PartitionerInstance, SourceInstance, TransformInstance,
};
use streamplug_codec::BatchReader;
use streamplug_tests::artifacts;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

const BATCHES: [u32; 4] = [1, 16, 256, 1024];
const VALUE_BYTES: &str = "100";

/// Instances kept alive at once while instantiation is timed: like a host
/// running many plugins, a new instance does not always reuse the slot
/// that the previous one just freed. They are dropped outside the timing.
const LIVE_INSTANCES: usize = 100;

/// Short measurements: the whole suite runs in a few minutes on 2 cores.
fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An engine as the runtime builds it, with its linker and compile cache.
struct Host {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
}

impl Host {
    fn new(pooling: bool) -> Result<Self> {
        let engine = engine::build(pooling)?;
        let linker = plugin::linker(&engine)?;
        let cache = CompileCache::new(
            &engine,
            std::env::temp_dir().join("streamplug-micro-bench-cache"),
        );
        Ok(Self {
            engine,
            linker,
            cache,
        })
    }

    fn load(&self, path: &str) -> Result<Arc<LoadedPlugin>> {
        plugin::load(&self.engine, &self.linker, &self.cache, path.as_ref())
    }

    fn source(&self, plugin: &LoadedPlugin, config: &Vec<(String, String)>) -> SourceInstance {
        SourceInstance::start(
            &self.engine,
            plugin,
            Arc::new(streamplug::plugin::PluginLog::new("bench", None)),
            PluginLimits::default(),
            &Capabilities::default(),
            config,
            None,
        )
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", plugin.path.display()))
    }

    fn transform(
        &self,
        plugin: &LoadedPlugin,
        config: &Vec<(String, String)>,
    ) -> TransformInstance {
        TransformInstance::start(
            &self.engine,
            plugin,
            Arc::new(streamplug::plugin::PluginLog::new("bench", None)),
            PluginLimits::default(),
            &Capabilities::default(),
            config,
            None,
        )
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", plugin.path.display()))
    }
}

fn poll_batch(source: &mut SourceInstance, batch: u32) -> Vec<u8> {
    match source.poll(batch, u64::MAX) {
        Ok(PollResult::Records(p)) => p.records,
        Ok(_) => panic!("datagen returned no records"),
        Err(e) => panic!("datagen poll failed: {e}"),
    }
}

fn bench_stages(c: &mut Criterion, host: &Host) -> Result<()> {
    let datagen = host.load(artifacts::DATAGEN)?;
    let passthrough = host.load(artifacts::TEST_PASSTHROUGH)?;
    let keyhash = host.load(artifacts::KEYHASH_PARTITIONER)?;
    let json_filter = host.load(artifacts::JSON_FILTER)?;
    // A fixed timestamp: no clock read per poll, as in stage-cost.
    let bytes_cfg = settings(&[("value_size", VALUE_BYTES), ("timestamp", "1700000000000")]);
    let json_cfg = settings(&[
        ("value_size", VALUE_BYTES),
        ("format", "json"),
        ("timestamp", "1700000000000"),
    ]);
    let filter_cfg = settings(&[("field", "kind"), ("values", "buy")]);
    let none = Vec::new();

    let mut source = host.source(&datagen, &bytes_cfg);
    let mut json_source = host.source(&datagen, &json_cfg);
    let mut pass = host.transform(&passthrough, &none);
    let mut filter = host.transform(&json_filter, &filter_cfg);
    let mut part = PartitionerInstance::start(
        &host.engine,
        &keyhash,
        Arc::new(streamplug::plugin::PluginLog::new("bench", None)),
        PluginLimits::default(),
        &Capabilities::default(),
        &none,
        None,
    )
    .map_err(|e| anyhow::anyhow!("cannot start keyhash-partitioner: {e}"))?;

    let mut g = c.benchmark_group("stage");
    for batch in BATCHES {
        let sample = poll_batch(&mut source, batch);
        let json_sample = poll_batch(&mut json_source, batch);
        g.throughput(Throughput::Elements(u64::from(batch)));
        g.bench_function(BenchmarkId::new("datagen-poll", batch), |b| {
            b.iter(|| poll_batch(&mut source, batch))
        });
        g.bench_function(BenchmarkId::new("passthrough-process", batch), |b| {
            b.iter(|| {
                pass.process(&sample)
                    .unwrap_or_else(|e| panic!("passthrough: {e}"))
            })
        });
        g.bench_function(BenchmarkId::new("keyhash-partition", batch), |b| {
            b.iter(|| {
                part.partition("bench", 12, &sample)
                    .unwrap_or_else(|e| panic!("keyhash-partitioner: {e}"))
            })
        });
        g.bench_function(BenchmarkId::new("json-filter-process", batch), |b| {
            b.iter(|| {
                filter
                    .process(&json_sample)
                    .unwrap_or_else(|e| panic!("json-filter: {e}"))
            })
        });
        // What the host does to every batch a plugin returns.
        g.bench_function(BenchmarkId::new("host-validate", batch), |b| {
            b.iter(|| {
                BatchReader::new(&sample)
                    .and_then(|r| r.validate())
                    .unwrap_or_else(|e| panic!("validate: {e}"))
            })
        });
    }
    g.finish();
    Ok(())
}

/// Times `make` per call, `LIVE_INSTANCES` results alive at a time, and
/// drops them (and prepares the inputs, with `prepare`) outside the timing.
fn timed<P, T>(
    iters: u64,
    mut prepare: impl FnMut() -> P,
    mut make: impl FnMut(P) -> T,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut live = Vec::with_capacity(LIVE_INSTANCES);
    while left > 0 {
        let n = left.min(LIVE_INSTANCES as u64);
        let inputs: Vec<P> = (0..n).map(|_| prepare()).collect();
        let started = Instant::now();
        for input in inputs {
            live.push(make(input));
        }
        total += started.elapsed();
        live.clear();
        left -= n;
    }
    total
}

fn bench_instantiation(c: &mut Criterion, host: &Host, group: &str) -> Result<()> {
    let datagen = host.load(artifacts::DATAGEN)?;
    let passthrough = host.load(artifacts::TEST_PASSTHROUGH)?;
    // The raw template of the same component, for wasmtime's own steps (the
    // host's `LoadedPlugin` keeps its template private).
    let component = Component::from_file(&host.engine, artifacts::DATAGEN)
        .map_err(|e| anyhow::anyhow!("cannot compile datagen: {e:#}"))?;
    let pre = source::SourcePre::new(
        host.linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("cannot link datagen: {e:#}"))?,
    )
    .map_err(|e| anyhow::anyhow!("datagen is not a source: {e:#}"))?;
    let none = Vec::new();
    let name = Arc::new(streamplug::plugin::PluginLog::new("bench", None));
    let state = || {
        HostState::new(name.clone(), 64 << 20, &Capabilities::default())
            .unwrap_or_else(|e| panic!("cannot build the host state: {e}"))
    };
    let store = |s: HostState| {
        let mut store = Store::new(&host.engine, s);
        store.epoch_deadline_trap();
        // Generous: wasm may run during instantiation and `init`, and
        // nothing ticks the epoch here.
        store.set_epoch_deadline(1_000);
        store
    };
    let instantiate = |mut s: Store<HostState>| {
        let bindings = pre
            .instantiate(&mut s)
            .unwrap_or_else(|e| panic!("cannot instantiate datagen: {e:#}"));
        (s, bindings)
    };

    let mut g = c.benchmark_group(group);
    g.bench_function("datagen-start", |b| {
        b.iter_custom(|n| timed(n, || (), |()| host.source(&datagen, &none)))
    });
    g.bench_function("passthrough-start", |b| {
        b.iter_custom(|n| timed(n, || (), |()| host.transform(&passthrough, &none)))
    });
    g.bench_function("datagen-wasi-ctx", |b| {
        b.iter_custom(|n| timed(n, || (), |()| state()))
    });
    g.bench_function("datagen-store", |b| {
        b.iter_custom(|n| timed(n, state, store))
    });
    g.bench_function("datagen-instantiate", |b| {
        b.iter_custom(|n| timed(n, || store(state()), instantiate))
    });
    g.bench_function("datagen-init", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || instantiate(store(state())),
                |(mut s, bindings)| {
                    match bindings.call_setup(&mut s, &none, None) {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => panic!("datagen init refused: {e}"),
                        Err(e) => panic!("datagen init failed: {e:#}"),
                    }
                    (s, bindings)
                },
            )
        })
    });
    g.finish();
    Ok(())
}

fn bench_compile(c: &mut Criterion, host: &Host) -> Result<()> {
    let scratch =
        std::env::temp_dir().join(format!("streamplug-micro-compile-{}", std::process::id()));
    let mut g = c.benchmark_group("compile");
    // Compiling takes 10s of ms to seconds: equal-sized samples, not a ramp.
    g.sampling_mode(SamplingMode::Flat);
    for (label, path) in [
        ("datagen", artifacts::DATAGEN),
        // ~1 MB of code: the transform the hot-swap bench replaces.
        ("big-mark", artifacts::TEST_BIG_MARK),
    ] {
        let wasm = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
        let hash = plugin::content_hash(&wasm);
        let warm = CompileCache::new(&host.engine, scratch.join("warm"));
        warm.load(&host.engine, &wasm, &hash)
            .map_err(|e| anyhow::anyhow!("cannot compile {label}: {e:#}"))?;
        let mut round = 0u64;
        g.bench_function(BenchmarkId::new("cold", label), |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    // A cache folder never used before: a guaranteed miss.
                    round += 1;
                    let dir = scratch.join(format!("cold-{round}"));
                    let cache = CompileCache::new(&host.engine, dir.clone());
                    let started = Instant::now();
                    let loaded = cache.load(&host.engine, &wasm, &hash);
                    total += started.elapsed();
                    if let Err(e) = loaded {
                        panic!("cannot compile {label}: {e:#}");
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("cached", label), |b| {
            b.iter(|| {
                warm.load(&host.engine, &wasm, &hash)
                    .unwrap_or_else(|e| panic!("cannot load {label}: {e:#}"))
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Where criterion writes its estimates: as criterion itself decides it
/// (`CRITERION_HOME`, else `<target dir>/criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// Criterion's estimate of one iteration, in ns, if that bench ran in this
/// process (older estimates on disk are ignored): the regression slope for
/// linear sampling, as criterion reports it, else the mean.
fn estimate_ns(dir: &Path, since: SystemTime, id: &str) -> Result<Option<f64>> {
    let path = dir.join(id).join("new/estimates.json");
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    if meta.modified().map_or(true, |m| m < since) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let point = |k: &str| v[k]["point_estimate"].as_f64();
    match point("slope").or_else(|| point("mean")) {
        Some(ns) => Ok(Some(ns)),
        None => bail!("{} has no slope or mean estimate", path.display()),
    }
}

fn summary(since: SystemTime, load_start: &str) -> Result<()> {
    let dir = criterion_dir();
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    let mut stages = serde_json::Map::new();
    for stage in [
        "datagen-poll",
        "passthrough-process",
        "keyhash-partition",
        "json-filter-process",
        "host-validate",
    ] {
        let mut per_batch = serde_json::Map::new();
        for batch in BATCHES {
            if let Some(ns) = estimate_ns(&dir, since, &format!("stage/{stage}/{batch}"))? {
                per_batch.insert(batch.to_string(), json!(round(ns / f64::from(batch), 1)));
            }
        }
        if !per_batch.is_empty() {
            stages.insert(stage.into(), Value::Object(per_batch));
        }
    }
    let mut instantiation = serde_json::Map::new();
    for (mode, group) in [
        ("pooling", "instantiate-pooling"),
        ("on_demand", "instantiate-on-demand"),
    ] {
        let mut steps = serde_json::Map::new();
        for step in [
            "datagen-start",
            "passthrough-start",
            "datagen-wasi-ctx",
            "datagen-store",
            "datagen-instantiate",
            "datagen-init",
        ] {
            if let Some(ns) = estimate_ns(&dir, since, &format!("{group}/{step}"))? {
                steps.insert(step.into(), json!(round(ns / 1e3, 2)));
            }
        }
        if !steps.is_empty() {
            instantiation.insert(mode.into(), Value::Object(steps));
        }
    }
    let mut compile = serde_json::Map::new();
    for plugin in ["datagen", "big-mark"] {
        let mut row = serde_json::Map::new();
        for how in ["cold", "cached"] {
            if let Some(ns) = estimate_ns(&dir, since, &format!("compile/{how}/{plugin}"))? {
                row.insert(how.into(), json!(round(ns / 1e6, 3)));
            }
        }
        if !row.is_empty() {
            compile.insert(plugin.into(), Value::Object(row));
        }
    }
    let sizes: serde_json::Map<String, Value> = [
        ("datagen", artifacts::DATAGEN),
        ("big-mark", artifacts::TEST_BIG_MARK),
    ]
    .iter()
    .filter_map(|(n, p)| Some((n.to_string(), json!(std::fs::metadata(p).ok()?.len()))))
    .collect();
    let report = json!({
        "what": "criterion microbenchmarks through the host sandbox (tests/benches/micro.rs); \
                 estimates are criterion's (slope for linear sampling, else mean)",
        "command": "cargo bench -p streamplug-tests --bench micro",
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg_start": load_start,
        "loadavg_end": streamplug_tests::loadavg(),
        "value_bytes": 100,
        "stage_ns_per_record": stages,
        "stage_note": "one call with a whole batch, divided by the batch size; \
                       host-validate is the host's check of a returned batch",
        "instantiation_us_per_instance": instantiation,
        "instantiation_note": "from a ready InstancePre; *-start is the host's whole path \
                               (SourceInstance/TransformInstance::start: WASI context, store, \
                               instantiate, init); the datagen-* steps are its parts, timed apart",
        "compile_ms": compile,
        "compile_note": "cold: compile into an empty cache (compile, write the artifact, load it); \
                         cached: load the artifact written before (mmap + checks)",
        "wasm_bytes": sizes,
    });
    let out = std::env::var_os("STREAMPLUG_MICRO_JSON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results/micro.json"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("summary written to {}", out.display());
    Ok(())
}

fn main() -> Result<()> {
    let started = SystemTime::now();
    let load_start = streamplug_tests::loadavg();
    let mut c = criterion();
    let pooled = Host::new(true)?;
    bench_stages(&mut c, &pooled)?;
    bench_instantiation(&mut c, &pooled, "instantiate-pooling")?;
    {
        let on_demand = Host::new(false)?;
        bench_instantiation(&mut c, &on_demand, "instantiate-on-demand")?;
    }
    bench_compile(&mut c, &pooled)?;
    c.final_summary();
    // `cargo bench` also runs bench targets with `--bench`; `cargo test`
    // runs them in test mode (each bench once), where there is nothing to
    // summarise.
    if std::env::args().any(|a| a == "--bench") {
        summary(started, &load_start)?;
    }
    Ok(())
}
