//! `bench --formats` and `bench --large`: interleaved comparisons of what
//! the values are, measured as the main bench measures (at the broker, CPU
//! and peak RSS from the kernel), each variant on a fresh topic and every
//! round running the variants in turn.
//!
//! - `--formats` (issue 16, item 8): case (c), datagen → passthrough →
//!   keyhash-partitioner, with datagen's a–z values passed on as bytes
//!   (plain (c), the reference), with datagen's JSON passed on as bytes, and
//!   with the same JSON encoded by the host as Avro and framed with the id of
//!   a real schema registry (`STREAMPLUG_TEST_REGISTRY`, see
//!   `tests/registry/registry.sh`). At 100 B and 1 KiB values.
//! - `--large` (issue 16, item 7): case (a), the bare rust-rdkafka loop,
//!   against case (b), streamplug with one datagen source, both making
//!   datagen's random (incompressible) values of 100 KiB and 1,000,000
//!   bytes, with `message.max.bytes` and `max_record_bytes` raised together.
//!
//! Each figure is the median over the rounds with its spread (half the
//! range, as ± of the median); ratios are to the first variant, both as the
//! ratio of the medians and as the median of each round's own ratio.
//!
//! ```text
//! STREAMPLUG_TEST_BROKERS=127.0.0.1:39092 [STREAMPLUG_TEST_REGISTRY=URL] cargo run --release -p streamplug-tests --bin bench -- --formats|--large [OPTIONS]
//!   --rounds R        interleaved rounds (5)
//!   --scale X         multiply the record counts (1.0): --formats 100 B
//!                     1000000, 1 KiB 500000; --large 100 KiB 6000, 1 MB 600
//!   --out PATH        JSON (tests/bench-results/formats-c.json, large-values.json)
//!   --keep-topics     leave each run's topic on the broker
//!   --smoke           a few records per variant, 1 round, no warm-up, to a temp dir
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use serde_json::{Value, json};
use streamplug::format::avro::AvroSchema;
use streamplug_tests::{Scratch, brokers, unique_topic};

use super::bare::EVENT_AVSC;

use super::{
    Case, Knobs, METRICS, MIB, Opts, Values, git_commit, median, median_of, parse_num,
    print_usage_of, run_case, spread_pct, streamplug_build, thousands,
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Formats,
    Large,
}

/// One side of a comparison.
struct Variant {
    id: &'static str,
    name: &'static str,
    case: Case,
    values: Values,
}

impl Mode {
    /// The variants, the reference first.
    fn variants(self) -> Vec<Variant> {
        match self {
            Mode::Formats => vec![
                Variant {
                    id: "c-bytes",
                    name: "(c) a–z values as bytes (plain (c))",
                    case: Case::Pipeline,
                    values: Values::Pattern,
                },
                Variant {
                    id: "c-json",
                    name: "(c) datagen JSON as bytes",
                    case: Case::Pipeline,
                    values: Values::Json,
                },
                Variant {
                    id: "c-avro",
                    name: "(c) datagen JSON encoded as Avro, registry-framed",
                    case: Case::Pipeline,
                    values: Values::JsonAvro,
                },
            ],
            Mode::Large => vec![
                Variant {
                    id: "a",
                    name: "(a) bare rust-rdkafka producer, random values",
                    case: Case::Bare,
                    values: Values::Random,
                },
                Variant {
                    id: "b",
                    name: "(b) streamplug: datagen, format = random",
                    case: Case::Source,
                    values: Values::Random,
                },
            ],
        }
    }

    /// (value bytes, records) at scale 1.
    fn sizes(self, smoke: bool) -> Vec<(usize, f64)> {
        match (self, smoke) {
            (Mode::Formats, false) => vec![(100, 1_000_000.0), (1024, 500_000.0)],
            (Mode::Formats, true) => vec![(100, 2000.0), (1024, 2000.0)],
            (Mode::Large, false) => vec![(100 * 1024, 6000.0), (1_000_000, 600.0)],
            (Mode::Large, true) => vec![(100 * 1024, 20.0), (1_000_000, 5.0)],
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Mode::Formats => "--formats",
            Mode::Large => "--large",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Mode::Formats => "formats-c.json",
            Mode::Large => "large-values.json",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Mode::Formats => {
                "case (c) (datagen -> passthrough -> keyhash-partitioner) with datagen's a-z values as bytes (the reference), datagen's JSON as bytes, and the same JSON encoded by the host as Avro (value_format avro, schema id from a real registry, Confluent-framed); interleaved rounds"
            }
            Mode::Large => {
                "large values: case (a), the bare rust-rdkafka loop, against case (b), streamplug with one datagen source, both making datagen's random (incompressible) values; message.max.bytes 1048576 and max_record_bytes 1040000 in both; interleaved rounds"
            }
        }
    }
}

struct VersusOpts {
    sizes: Vec<(usize, u64)>,
    rounds: usize,
    out: PathBuf,
    keep_topics: bool,
    smoke: bool,
    command: String,
}

impl VersusOpts {
    fn parse(mode: Mode, args: &[String]) -> Result<Self> {
        let smoke = args.iter().any(|a| a == "--smoke");
        let mut rounds = if smoke { 1 } else { 5 };
        let mut scale = 1.0f64;
        let mut out = None;
        let mut keep_topics = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |what: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{arg} needs {what}"))
            };
            match arg.as_str() {
                "--smoke" => {}
                "--keep-topics" => keep_topics = true,
                "--rounds" => rounds = parse_num(&value("a number")?, arg)?,
                "--scale" => scale = parse_num(&value("a factor")?, arg)?,
                "--out" => out = Some(PathBuf::from(value("a path")?)),
                "-h" | "--help" => {
                    print_usage();
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (see {} --help)", mode.flag()),
            }
        }
        ensure!(
            rounds > 0 && scale > 0.0,
            "--rounds and --scale must be above 0"
        );
        // A smoke run must never overwrite the published results.
        let dir = if smoke {
            std::env::temp_dir().join(unique_topic("streamplug-versus-smoke"))
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results")
        };
        let sizes = mode
            .sizes(smoke)
            .into_iter()
            .map(|(bytes, n)| (bytes, ((n * scale) as u64).max(1)))
            .collect();
        let command = format!(
            "cargo run --release -p streamplug-tests --bin bench -- {} {}",
            mode.flag(),
            args.join(" ")
        );
        Ok(VersusOpts {
            sizes,
            rounds,
            out: out.unwrap_or_else(|| dir.join(mode.file())),
            keep_topics,
            smoke,
            command: command.trim_end().to_string(),
        })
    }
}

fn print_usage() {
    print_usage_of(include_str!("versus.rs"));
}

pub fn main(mode: Mode, args: &[String]) -> Result<()> {
    let vo = VersusOpts::parse(mode, args)?;
    if mode == Mode::Formats {
        ensure!(
            std::env::var("STREAMPLUG_TEST_REGISTRY").is_ok_and(|u| !u.is_empty()),
            "--formats needs a schema registry: start one with tests/registry/registry.sh start \
             and export STREAMPLUG_TEST_REGISTRY=$(tests/registry/registry.sh url)"
        );
    }
    let load_start = streamplug_tests::loadavg();
    let started = Instant::now();
    let brokers = brokers();
    // Every run uses the same build, even if target/release is rebuilt meanwhile.
    let private = Scratch::new("versus-bin");
    let binary = private.path().join("streamplug");
    let built = streamplug_tests::streamplug_bin();
    std::fs::copy(&built, &binary).with_context(|| format!("cannot copy {}", built.display()))?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .context("cannot create the admin client")?;
    let base = Opts {
        sizes: Vec::new(),
        rounds: vo.rounds,
        partitions: 6,
        sample_every: Duration::from_millis(5),
        out: vo.out.clone(),
        svg: PathBuf::new(),
        keep_topics: vo.keep_topics,
        warmup: !vo.smoke,
        smoke: vo.smoke,
        paced_seconds: 0.0,
        streamplug: binary,
        bare_system: PathBuf::new(),
        knobs: Knobs::default(),
        timeline: false,
    };
    let variants = mode.variants();
    let opts_for = |v: &Variant| Opts {
        knobs: Knobs {
            values: v.values,
            ..Knobs::default()
        },
        ..base.clone()
    };

    if base.warmup {
        // Compiles the plugins into streamplug's cache (and registers the
        // schema), so that round 1 is not charged for either.
        let (bytes, _) = vo.sizes[0];
        for v in &variants {
            eprintln!("warm-up: {} with 20 records", v.id);
            run_case(v.case, bytes, 20, &opts_for(v), &admin, &brokers, 0)
                .with_context(|| format!("warm-up of {}", v.id))?;
        }
    }

    let mut sizes = Vec::new();
    let mut retries = Vec::new();
    for &(value_bytes, records) in &vo.sizes {
        let mut runs: Vec<Vec<Value>> = vec![Vec::new(); variants.len()];
        for round in 1..=vo.rounds {
            for (i, v) in variants.iter().enumerate() {
                let opts = opts_for(v);
                let what = || format!("{}, {value_bytes} B, round {round}", v.id);
                let once =
                    || run_case(v.case, value_bytes, records, &opts, &admin, &brokers, round);
                let run = match once() {
                    Ok(run) => run,
                    Err(e) => {
                        eprintln!("{}: {e:#}; retrying once", what());
                        retries.push(json!({ "run": what(), "error": format!("{e:#}") }));
                        once().with_context(what)?
                    }
                };
                eprintln!(
                    "{value_bytes:>8} B  round {round}  {:<8} {:>10.0} rec/s  {:>8.1} MB/s  cpu {:>6.2} s ({:.2} µs/record)  rss {:>6.1} MiB",
                    v.id,
                    run["records_per_s"].as_f64().unwrap_or(f64::NAN),
                    run["mb_per_s"].as_f64().unwrap_or(f64::NAN),
                    run["cpu_seconds"].as_f64().unwrap_or(f64::NAN),
                    run["cpu_s_per_million"].as_f64().unwrap_or(f64::NAN),
                    run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
                );
                runs[i].push(run);
            }
        }
        sizes.push(summarise(&variants, value_bytes, records, &runs));
    }

    let report = json!({
        "what": mode.what(),
        "command": vo.command,
        "smoke": vo.smoke,
        "when_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "git_commit": git_commit(),
        "streamplug_build": streamplug_build(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg_start": load_start,
        "loadavg_end": streamplug_tests::loadavg(),
        "seconds": started.elapsed().as_secs_f64(),
        "rounds": vo.rounds,
        "partitions": base.partitions,
        "producer_settings": "streamplug's [kafka] defaults (linger 20 ms, 1 MiB batches, lz4, acks=all, idempotence, murmur2_random) and a source's default in-flight caps (100,000 records, 64 MiB), the bare loop's queue limits set to the same",
        "definitions": {
            "records_per_s, mb_per_s, latency": "as in bench.json: at the broker, from high-watermark samples every 5 ms; MB/s is records/s x the value size datagen was asked for, in MiB (c-avro's values as produced are smaller: see value_bytes_on_wire)",
            "cpu_s_per_million": "user + system CPU of the case's process (wait4) per million records, start-up and final flush included: also microseconds per record",
            "cpu_ms_per_mib": "the same CPU per MiB of values asked for",
            "spread_pct": "half the range over the rounds, as a percentage of the median",
            "ratio_of_medians": "this variant's median / the first variant's median",
            "paired_ratio": "the median (and range) over rounds of this variant's run / the first variant's run of the same round",
        },
        "sizes": sizes,
        "retries": retries,
    });
    if let Some(dir) = vo.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&vo.out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", vo.out.display()))?;
    println!("{}", markdown_table(&report));
    println!("written to {}", vo.out.display());
    Ok(())
}

/// The figures of one value size: per variant, medians, spreads and ratios
/// to the first variant.
fn summarise(variants: &[Variant], value_bytes: usize, records: u64, runs: &[Vec<Value>]) -> Value {
    let per_mib = |run: &Value| {
        run["cpu_s_per_million"]
            .as_f64()
            .map(|us| us / 1000.0 * MIB / value_bytes as f64)
    };
    let reference = &runs[0];
    let cases: Vec<Value> = variants
        .iter()
        .zip(runs)
        .map(|(v, runs)| {
            let mut m = serde_json::Map::new();
            let mut spread = serde_json::Map::new();
            for (name, path) in METRICS {
                m.insert(name.to_string(), json!(median_of(runs, path)));
                spread.insert(name.to_string(), json!(spread_pct(runs, path)));
            }
            let mut cpu_mib: Vec<f64> = runs.iter().filter_map(per_mib).collect();
            m.insert("cpu_ms_per_mib".into(), json!(median(&mut cpu_mib)));
            let mut ratios = serde_json::Map::new();
            for figure in ["records_per_s", "cpu_s_per_million", "peak_rss_mib"] {
                let path = [figure];
                let of_medians = median_of(runs, &path)
                    .zip(median_of(reference, &path))
                    .map(|(x, r)| x / r);
                let mut paired: Vec<f64> = runs
                    .iter()
                    .zip(reference)
                    .filter_map(|(x, r)| Some(x[figure].as_f64()? / r[figure].as_f64()?))
                    .collect();
                let (lo, hi) = paired
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
                let range = (!paired.is_empty()).then(|| json!([lo, hi]));
                ratios.insert(
                    figure.to_string(),
                    json!({
                        "ratio_of_medians": of_medians,
                        "paired_ratio": median(&mut paired),
                        "paired_range": range,
                    }),
                );
            }
            json!({
                "id": v.id,
                "name": v.name,
                "value_bytes_on_wire": wire_bytes(v.values, value_bytes, records / 2),
                "median": m,
                "spread_pct": spread,
                "ratio_to_first": ratios,
                "runs": runs,
            })
        })
        .collect();
    json!({
        "value_bytes": value_bytes,
        "records": records,
        "cases": cases,
    })
}

/// A value's bytes as produced, for record `seq`: datagen's JSON encoded
/// as Avro plus the 5-byte frame for `Values::JsonAvro`, else as made.
fn wire_bytes(values: Values, value_bytes: usize, seq: u64) -> Option<usize> {
    if values != Values::JsonAvro {
        return Some(value_bytes);
    }
    let kind = streamplug_tests::datagen::json_kind(seq);
    let bare = format!(r#"{{"seq":{seq},"kind":"{kind}","pad":""}}"#);
    let pad = "x".repeat(value_bytes.saturating_sub(bare.len()));
    let json = format!(r#"{{"seq":{seq},"kind":"{kind}","pad":"{pad}"}}"#);
    let schema = AvroSchema::parse(EVENT_AVSC).ok()?;
    let mut out = Vec::new();
    schema.encode_json(json.as_bytes(), &mut out).ok()?;
    Some(out.len() + 5)
}

/// The README table: one row per size and variant.
fn markdown_table(report: &Value) -> String {
    let mut t = String::from(
        "| values | variant | records/s | MB/s | CPU µs per record | CPU ms per MiB | peak RSS (MiB) | records/s ÷ first (paired) | CPU ÷ first (paired) |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let empty = Vec::new();
    for size in report["sizes"].as_array().unwrap_or(&empty) {
        let bytes = size["value_bytes"].as_u64().unwrap_or(0);
        let label = match bytes {
            b if b >= 1_000_000 => format!("{:.2} MB", b as f64 / 1e6),
            b if b >= 1024 && b.is_multiple_of(1024) => format!("{} KiB", b / 1024),
            b => format!("{b} B"),
        };
        for case in size["cases"].as_array().unwrap_or(&empty) {
            let m = &case["median"];
            let s = &case["spread_pct"];
            let r = &case["ratio_to_first"];
            let f = |v: &Value, d: usize| {
                v.as_f64()
                    .map_or_else(|| "n/a".to_string(), |x| format!("{x:.d$}"))
            };
            t += &format!(
                "| {label} | {} | {} ±{}% | {} ±{}% | {} ±{}% | {} | {} | {} | {} |\n",
                case["name"].as_str().unwrap_or("?"),
                m["records_per_s"]
                    .as_f64()
                    .map_or_else(|| "n/a".to_string(), thousands),
                f(&s["records_per_s"], 0),
                f(&m["mb_per_s"], 1),
                f(&s["mb_per_s"], 0),
                f(&m["cpu_s_per_million"], 2),
                f(&s["cpu_s_per_million"], 0),
                f(&m["cpu_ms_per_mib"], 1),
                f(&m["peak_rss_mib"], 0),
                f(&r["records_per_s"]["paired_ratio"], 2),
                f(&r["cpu_s_per_million"]["paired_ratio"], 2),
            );
        }
    }
    t
}
