//! Linear memory of one plugin instance per language as records go through
//! it: the peak after 1,000 ... 800,000 records of about 230-byte JSON values
//! at batch 1024, each batch a fresh one from `datagen`. A plugin that only
//! holds what one call needs stays flat; one that keeps something per call
//! grows with the records seen.
//!
//! `cargo run --release -p streamplug-tests --bin lang-memory [OUT.json]`
//! builds the plugins with `plugins/examples.sh`, prints a table and writes
//! JSON (default `tests/bench-results/lang-memory.json`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use streamplug::config::{ByteSize, Capabilities, PluginLimits};
use streamplug::engine;
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{self, CompileCache, PluginLog, SourceInstance, TransformInstance};
use streamplug_tests::{artifacts, langs};

/// Records seen when the peak is read.
const AFTER: [usize; 9] = [
    1_024, 5_120, 10_240, 20_480, 51_200, 102_400, 204_800, 409_600, 819_200,
];
const BATCH: u32 = 1024;
/// High enough that no plugin is stopped: the point is to see how far it goes.
const LIMIT: u64 = 2 << 30;

/// A plugin's config table.
type Settings = Vec<(&'static str, &'static str)>;

/// (row name, example or test plugin, config)
fn plugins() -> Vec<(&'static str, String, Settings)> {
    let route = vec![
        ("route_field", "kind"),
        ("routes", "buy=buys,view=views"),
        ("unrouted", "drop"),
        ("fields", "kind,seq"),
        ("key_field", "seq"),
    ];
    vec![
        (
            "Rust passthrough",
            artifacts::TEST_PASSTHROUGH.to_string(),
            vec![],
        ),
        ("C redact", langs::plugin("c-redact"), vec![]),
        (
            "Python pass-through",
            langs::plugin("python-raise-on-call"),
            vec![("n", "0")],
        ),
        (
            "Go pass-through",
            langs::plugin("go-passthrough"),
            vec![("n", "0")],
        ),
        (
            "JavaScript pass-through",
            langs::plugin("js-throw-on-call"),
            vec![("n", "0")],
        ),
        (
            "JavaScript, input unread",
            langs::plugin("js-drop-all"),
            vec![],
        ),
        ("JavaScript route", langs::plugin("js-route"), route),
    ]
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/lang-memory.json")
        });
    let engine = engine::build(true)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, std::env::temp_dir().join("streamplug-bench-cache"));
    let load = |path: &str| plugin::load(&engine, &linker, &cache, path.as_ref());
    let limits = PluginLimits {
        memory: ByteSize(LIMIT),
        ..PluginLimits::default()
    };
    let none = Capabilities::default();

    let datagen = load(artifacts::DATAGEN)?;
    let gen_config = [
        ("value_size", "230"),
        ("format", "json"),
        ("timestamp", "1700000000000"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();

    let mut rows = Vec::new();
    print!("{:<26}", "peak MiB after records");
    for n in AFTER {
        print!(" {n:>8}");
    }
    println!();
    for (name, path, config) in plugins() {
        let config: Vec<(String, String)> = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let loaded = load(&path).with_context(|| format!("loading {path}"))?;
        let log = Arc::new(PluginLog::new(name, None));
        let mut source = SourceInstance::start(
            &engine,
            &datagen,
            Arc::new(PluginLog::new("datagen", None)),
            PluginLimits::default(),
            &none,
            &gen_config,
            None,
        )
        .map_err(|e| anyhow!("datagen: {e}"))?;
        let mut instance =
            TransformInstance::start(&engine, &loaded, log, limits, &none, &config, None)
                .map_err(|e| anyhow!("{name}: {e}"))?;
        let mut seen = 0;
        let mut curve = Vec::new();
        print!("{name:<26}");
        for after in AFTER {
            while seen < after {
                let batch = poll(&mut source)?;
                instance
                    .process(&batch)
                    .map_err(|e| anyhow!("{name} after {seen} records: {e}"))?;
                seen += BATCH as usize;
            }
            let mib = instance.peak_memory() as f64 / f64::from(1u32 << 20);
            print!(" {mib:>8.1}");
            curve.push(json!({ "records": seen, "peak_mib": (mib * 10.0).round() / 10.0 }));
        }
        println!();
        rows.push(json!({ "plugin": name, "wasm": path, "curve": curve }));
    }
    let report = json!({
        "what": "peak linear memory of one transform instance after N records (datagen JSON, value_size 230, batch 1024)",
        "batch": BATCH,
        "loadavg": streamplug_tests::loadavg(),
        "results": rows,
    });
    streamplug_tests::write_report(&out, &report)?;
    Ok(())
}

fn poll(source: &mut SourceInstance) -> Result<Vec<u8>> {
    match source.poll(BATCH, u64::MAX).map_err(|e| anyhow!("{e}"))? {
        PollResult::Records(p) => Ok(p.records),
        _ => bail!("datagen made no batch"),
    }
}
