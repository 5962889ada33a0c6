//! Issue 6, item 1: the same N keyed records produced to the real broker by
//!
//! - (a) a bare rust-rdkafka producer loop (this binary, `--bare-producer`),
//!   with streamplug's own producer properties: the reference;
//! - (b) streamplug with a `datagen` source only;
//! - (c) streamplug with `datagen` → `passthrough` transform → `keyhash-partitioner`;
//! - (d) Kafka's `ProducerPerformance`, from the broker's own Maven artifacts,
//! - (e) streamplug with 8 `datagen` sources sharing the records,
//! - (a-sys) case (a) with the C library's allocator (`bench-bare-system`),
//!   once per size: "a loop you would write",
//!
//! at 100-byte and 1 KiB values, with the cases interleaved (a, b, c, d, e,
//! a, b, c, d, e, ...) and the median of the rounds reported with each
//! figure's ratio to (a) and its round-to-round spread. Then each case runs
//! again paced at half of (a)'s median rate, for the latency a user sees
//! below saturation. Writes `tests/bench-results/bench.json` and `bench.svg`.
//!
//! ```text
//! STREAMPLUG_TEST_BROKERS=127.0.0.1:39092 cargo run --release -p streamplug-tests --bin bench -- [OPTIONS]
//!   --records-100 N   records at 100-byte values (3000000)
//!   --records-1k N    records at 1 KiB values (1500000)
//!   --rounds R        interleaved rounds (5)
//!   --paced-seconds S length of each fixed-rate latency run (4; 0: none)
//!   --partitions P    partitions of each case's topic (6)
//!   --sample-ms MS    high-watermark sampling interval (5)
//!   --out PATH        JSON (tests/bench-results/bench.json)
//!   --svg PATH        chart (beside the JSON, bench.svg)
//!   --keep-topics     leave each case's topic on the broker
//!   --timeline        add latency and acknowledgements per 100 ms to each run
//!   --smoke           2000 records per size, 1 round, no warm-up, to a temp dir
//! ```
//!
//! Needs `cargo build --release -p streamplug -p streamplug-tests --bins`
//! first, Java 17+ and Maven (for `tests/kafka/broker.sh exec`).
//!
//! `bench --sweep [OPTIONS]` is a second mode: case (c) over `linger.ms` and
//! value sizes, for the performance model in `docs/performance.md` (see
//! `bench/sweep.rs`). `bench --formats` (case (c) with Avro values against
//! bytes) and `bench --large` (case (a) against (b) at 100 KiB and 1 MB
//! values) are interleaved comparisons of their own (see `bench/versus.rs`).
//!
//! Every case is a child process, so CPU time and peak RSS come from the
//! kernel (`wait4`) the same way for all four. Throughput and latency are
//! measured at the broker, also the same way for all four: a thread samples
//! the topic's high watermarks every few milliseconds while the case runs,
//! then the topic is read back, and each record's creation timestamp
//! (CreateTime) is set against the sample at which its offset became visible.

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Wake};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use streamplug_tests::{Scratch, brokers, unique_topic};

// Not src/bin/sweep.rs, which Cargo would take for a binary of its own.
#[path = "bench/bare.rs"]
mod bare;
#[path = "bench/sweep.rs"]
mod sweep;
#[path = "bench/versus.rs"]
mod versus;

use bare::{
    Knobs, Values, parse_num, percentile, properties_json, source_name, streamplug_config,
    value_pattern, wall_us,
};

/// Case (a) uses the allocator streamplug uses (see host/src/main.rs), so
/// that (a) against (b), (c) and (e) compares code, not allocators; the
/// `bench-bare-system` binary is the same loop with the C library's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The longest one case may run before it is killed and the bench fails.
const CASE_LIMIT: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Bare,
    Source,
    Pipeline,
    JavaPerf,
    /// Eight datagen sources in one host.
    Sources,
    /// Case (a) with the C library's allocator, once per size.
    BareSystem,
}

/// Every case, in the order of the report; each round runs them in this
/// order, except [`Case::BareSystem`], which runs in round 1 only.
const CASES: [Case; 6] = [
    Case::Bare,
    Case::Source,
    Case::Pipeline,
    Case::JavaPerf,
    Case::Sources,
    Case::BareSystem,
];

/// The cases of the fixed-rate latency runs.
const PACED_CASES: [Case; 5] = [
    Case::Bare,
    Case::Source,
    Case::Pipeline,
    Case::JavaPerf,
    Case::Sources,
];

/// Sources in case (e).
const MANY_SOURCES: u32 = 8;

impl Case {
    fn id(self) -> &'static str {
        match self {
            Case::Bare => "a",
            Case::Source => "b",
            Case::Pipeline => "c",
            Case::JavaPerf => "d",
            Case::Sources => "e",
            Case::BareSystem => "a-sys",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Case::Bare => "bare rust-rdkafka producer",
            Case::Source => "streamplug: datagen",
            Case::Pipeline => "streamplug: datagen → passthrough → keyhash",
            Case::JavaPerf => "Kafka ProducerPerformance",
            Case::Sources => "streamplug: 8 datagen sources",
            Case::BareSystem => "bare loop, C library malloc (one run)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Case::Bare => "(a) bare rdkafka",
            Case::Source => "(b) source",
            Case::Pipeline => "(c) src→xform→part",
            Case::JavaPerf => "(d) ProducerPerf",
            Case::Sources => "(e) 8 sources",
            Case::BareSystem => "(a-sys) bare, glibc",
        }
    }
}

#[derive(Clone)]
struct Opts {
    /// (value bytes, records).
    sizes: Vec<(usize, u64)>,
    rounds: usize,
    partitions: i32,
    sample_every: Duration,
    out: PathBuf,
    svg: PathBuf,
    keep_topics: bool,
    warmup: bool,
    smoke: bool,
    /// Seconds each fixed-rate run lasts (0: no fixed-rate runs).
    paced_seconds: f64,
    /// A private copy of the streamplug binary under test.
    streamplug: PathBuf,
    /// A private copy of `bench-bare-system`.
    bare_system: PathBuf,
    /// Producer and source settings away from the defaults (the sweep's).
    knobs: Knobs,
    /// Keep latency and acknowledgements per 100 ms in each run's JSON.
    timeline: bool,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts> {
        let results = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results");
        let smoke = args.iter().any(|a| a == "--smoke");
        let mut n100: u64 = if smoke { 2000 } else { 3_000_000 };
        let mut n1k: u64 = if smoke { 2000 } else { 1_500_000 };
        let mut rounds = if smoke { 1 } else { 5 };
        let mut paced_seconds: f64 = if smoke { 0.5 } else { 4.0 };
        let mut partitions = 6;
        let mut sample_ms = 5;
        let mut out = None;
        let mut svg = None;
        let mut keep_topics = false;
        let mut timeline = false;
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
                "--timeline" => timeline = true,
                "--records-100" => n100 = parse_num(&value("a record count")?, arg)?,
                "--records-1k" => n1k = parse_num(&value("a record count")?, arg)?,
                "--rounds" => rounds = parse_num(&value("a number")?, arg)?,
                "--partitions" => partitions = parse_num(&value("a number")?, arg)?,
                "--sample-ms" => sample_ms = parse_num(&value("milliseconds")?, arg)?,
                "--paced-seconds" => paced_seconds = parse_num(&value("seconds")?, arg)?,
                "--out" => out = Some(PathBuf::from(value("a path")?)),
                "--svg" => svg = Some(PathBuf::from(value("a path")?)),
                "-h" | "--help" => {
                    print_usage();
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (see --help)"),
            }
        }
        ensure!(
            n100 > 0 && n1k > 0 && rounds > 0 && partitions > 0 && sample_ms > 0,
            "record counts, --rounds, --partitions and --sample-ms must be above 0"
        );
        // A smoke run must never overwrite the published results.
        let default_dir = if smoke {
            std::env::temp_dir().join(unique_topic("streamplug-bench-smoke"))
        } else {
            results
        };
        let out = out.unwrap_or_else(|| default_dir.join("bench.json"));
        let svg = svg.unwrap_or_else(|| out.with_extension("svg"));
        Ok(Opts {
            sizes: vec![(100, n100), (1024, n1k)],
            rounds,
            partitions,
            sample_every: Duration::from_millis(sample_ms),
            out,
            svg,
            keep_topics,
            warmup: !smoke,
            smoke,
            paced_seconds,
            streamplug: PathBuf::new(),
            bare_system: PathBuf::new(),
            knobs: Knobs::default(),
            timeline,
        })
    }
}

/// Prints the usage block (the ```text fence) of a mode's module docs.
fn print_usage_of(doc: &str) {
    let usage: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.contains("```text"))
        .skip(1)
        .take_while(|l| !l.contains("```"))
        .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
        .collect();
    println!("{}", usage.join("\n"));
}

fn print_usage() {
    print_usage_of(include_str!("bench.rs"));
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--bare-producer") => return bare::bare_producer(&args[1..]),
        Some("--sweep") => return sweep::main(&args[1..]),
        Some("--formats") => return versus::main(versus::Mode::Formats, &args[1..]),
        Some("--large") => return versus::main(versus::Mode::Large, &args[1..]),
        _ => {}
    }
    let mut opts = Opts::parse(&args)?;
    let brokers = brokers();
    // Every streamplug case runs the same build, even if target/release is
    // rebuilt while the bench runs.
    let private = Scratch::new("bench-bin");
    opts.streamplug = private.path().join("streamplug");
    let built = streamplug_tests::streamplug_bin();
    std::fs::copy(&built, &opts.streamplug)
        .with_context(|| format!("cannot copy {}", built.display()))?;
    opts.bare_system = private.path().join("bench-bare-system");
    let sibling = std::env::current_exe()?.with_file_name("bench-bare-system");
    std::fs::copy(&sibling, &opts.bare_system).with_context(|| {
        format!(
            "cannot copy {} (cargo build --release -p streamplug-tests --bins)",
            sibling.display()
        )
    })?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .context("cannot create the admin client")?;

    if opts.warmup {
        // Compiles the plugins into streamplug's cache and pages in the JVM's
        // jars, so that round 1 is not charged for either.
        eprintln!("warm-up: every case once with 1000 records");
        for case in CASES {
            run_case(case, 100, 1000, &opts, &admin, &brokers, 0)
                .with_context(|| format!("warm-up of case ({})", case.id()))?;
        }
    }

    let mut sizes = Vec::new();
    let mut retries = Vec::new();
    for &(value_bytes, records) in &opts.sizes {
        let mut runs: Vec<Vec<Value>> = vec![Vec::new(); CASES.len()];
        for round in 1..=opts.rounds {
            for (i, case) in CASES.into_iter().enumerate() {
                if case == Case::BareSystem && round > 1 {
                    continue;
                }
                let run = Measure {
                    opts: &opts,
                    admin: &admin,
                    brokers: &brokers,
                    value_bytes,
                }
                .run(case, records, round, &mut retries)?;
                runs[i].push(run);
            }
        }
        let paced = paced_runs(&opts, &admin, &brokers, value_bytes, &runs[0], &mut retries)?;
        sizes.push(summarise_size(value_bytes, records, runs, paced));
    }

    let report = report(&opts, &brokers, sizes, retries)?;
    for path in [&opts.out, &opts.svg] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    std::fs::write(&opts.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", opts.out.display()))?;
    std::fs::write(&opts.svg, svg_chart(&report))
        .with_context(|| format!("cannot write {}", opts.svg.display()))?;
    println!("{}", markdown_table(&report));
    println!(
        "written to {} and {}",
        opts.out.display(),
        opts.svg.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// One case, measured

/// What every run of one value size shares.
struct Measure<'a> {
    opts: &'a Opts,
    admin: &'a AdminClient<DefaultClientContext>,
    brokers: &'a str,
    value_bytes: usize,
}

impl Measure<'_> {
    /// Runs `case` once, with one retry on a fresh topic: the broker is
    /// shared with other work, and one lost connection should not void a
    /// long run. The report counts retries.
    fn run(
        &self,
        case: Case,
        records: u64,
        round: usize,
        retries: &mut Vec<Value>,
    ) -> Result<Value> {
        let (value_bytes, opts) = (self.value_bytes, self.opts);
        let paced = opts
            .knobs
            .rate
            .map_or(String::new(), |r| format!(", paced at {r}/s"));
        let what = || {
            format!(
                "case ({}) {}, {value_bytes}-byte values{paced}, round {round}",
                case.id(),
                case.name()
            )
        };
        let once = || {
            run_case(
                case,
                value_bytes,
                records,
                opts,
                self.admin,
                self.brokers,
                round,
            )
        };
        let run = match once() {
            Ok(run) => run,
            Err(e) => {
                eprintln!("{}: {e:#}; retrying once", what());
                retries.push(json!({ "run": what(), "error": format!("{e:#}") }));
                once().with_context(what)?
            }
        };
        eprintln!(
            "{value_bytes:>5} B  round {round}  {:<20} {:>10.0} rec/s  p50 {:>7.1} ms  p99 {:>7.1} ms  cpu {:>6.2} s  rss {:>6.1} MiB{paced}",
            case.short(),
            run["records_per_s"].as_f64().unwrap_or(f64::NAN),
            run["latency_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            run["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            run["cpu_seconds"].as_f64().unwrap_or(f64::NAN),
            run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
        );
        Ok(run)
    }
}

/// The fixed-rate latency runs of one size: every case in [`PACED_CASES`]
/// paced at half of (a)'s median unthrottled rate for `paced_seconds`,
/// interleaved over the rounds. Below saturation, latency is what a user
/// sees; unthrottled, it only measures how deep the queue gets.
fn paced_runs(
    opts: &Opts,
    admin: &AdminClient<DefaultClientContext>,
    brokers: &str,
    value_bytes: usize,
    bare_runs: &[Value],
    retries: &mut Vec<Value>,
) -> Result<Option<Value>> {
    let Some(max) = median_of(bare_runs, &["records_per_s"]).filter(|_| opts.paced_seconds > 0.0)
    else {
        return Ok(None);
    };
    let rate = (max / 2.0).round().max(1.0) as u64;
    let records = ((rate as f64 * opts.paced_seconds) as u64).max(1000);
    let paced = Opts {
        knobs: Knobs {
            rate: Some(rate),
            ..opts.knobs
        },
        ..opts.clone()
    };
    let m = Measure {
        opts: &paced,
        admin,
        brokers,
        value_bytes,
    };
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); PACED_CASES.len()];
    for round in 1..=opts.rounds {
        for (i, case) in PACED_CASES.into_iter().enumerate() {
            runs[i].push(m.run(case, records, round, retries)?);
        }
    }
    let cases: Vec<Value> = PACED_CASES
        .into_iter()
        .zip(runs)
        .map(|(case, runs)| {
            json!({
                "id": case.id(),
                "name": case.name(),
                "median": {
                    "records_per_s": median_of(&runs, &["records_per_s"]),
                    "latency_p50_ms": median_of(&runs, &["latency_ms", "p50"]),
                    "latency_p99_ms": median_of(&runs, &["latency_ms", "p99"]),
                    "latency_max_ms": median_of(&runs, &["latency_ms", "max"]),
                    "latency_steady_p99_ms": median_of(&runs, &["latency_steady_ms", "p99"]),
                    "cpu_s_per_million": median_of(&runs, &["cpu_s_per_million"]),
                },
                "runs": runs,
            })
        })
        .collect();
    Ok(Some(json!({
        "what": "every case paced at half of (a)'s median unthrottled records/s; latency from CreateTime to the broker's high watermark, as in the unthrottled runs",
        "rate": rate,
        "records": records,
        "cases": cases,
    })))
}

/// Runs one case on a fresh topic and returns its measurements.
fn run_case(
    case: Case,
    value_bytes: usize,
    records: u64,
    opts: &Opts,
    admin: &AdminClient<DefaultClientContext>,
    brokers: &str,
    round: usize,
) -> Result<Value> {
    let topic = unique_topic(&format!("bench-{}-{value_bytes}", case.id()));
    create_topic(admin, brokers, &topic, opts.partitions)?;
    let dir = Scratch::new("bench");
    let summary = dir.path().join("summary.json");
    let sampler = Sampler::start(brokers, &topic, opts.partitions, records, opts.sample_every)?;

    let broker_cpu_before = broker_cpu_seconds();
    let started = Instant::now();
    let mut child = match case {
        Case::Bare | Case::BareSystem => {
            let out = std::fs::File::create(dir.path().join("stdout.log"))?;
            let err = std::fs::File::create(dir.path().join("stderr.log"))?;
            // Not current_exe(): a rebuild while the bench runs replaces the
            // file, and /proc/self/exe still names the binary that is running.
            let mut cmd = if case == Case::Bare {
                let mut c = Command::new("/proc/self/exe");
                c.arg("--bare-producer");
                c
            } else {
                Command::new(&opts.bare_system)
            };
            cmd.arg(&topic)
                .arg(records.to_string())
                .arg(value_bytes.to_string())
                .arg(opts.partitions.to_string())
                .arg(opts.knobs.linger_ms.map_or("-".into(), |l| l.to_string()))
                .arg(opts.knobs.rate.unwrap_or(0).to_string())
                .arg(opts.knobs.values.arg())
                .env("STREAMPLUG_TEST_BROKERS", brokers)
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .spawn()
                .context("cannot start the bare producer")?
        }
        Case::Source | Case::Pipeline | Case::Sources => {
            let knobs = Knobs {
                sources: if case == Case::Sources {
                    MANY_SOURCES
                } else {
                    1
                },
                ..opts.knobs
            };
            let text = streamplug_config(
                brokers,
                &topic,
                opts.partitions,
                records,
                value_bytes,
                case == Case::Pipeline,
                knobs,
            );
            if knobs.values == Values::JsonAvro {
                dir.write("event.avsc", bare::EVENT_AVSC);
            }
            let config = dir.write("config.toml", &text);
            let out = std::fs::File::create(dir.path().join("stdout.log"))?;
            let err = std::fs::File::create(dir.path().join("stderr.log"))?;
            Command::new(&opts.streamplug)
                .env("STREAMPLUG_LOG", "info")
                // Its own compile cache, filled by the warm-up.
                .env(
                    "XDG_CACHE_HOME",
                    std::env::temp_dir().join("streamplug-bench-cache"),
                )
                .arg("run")
                .arg(&config)
                .arg("--summary-json")
                .arg(&summary)
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .spawn()
                .context("cannot start streamplug")?
        }
        Case::JavaPerf => {
            let payloads = dir.write("payloads.txt", &java_payloads(value_bytes));
            let out = std::fs::File::create(dir.path().join("stdout.log"))?;
            let err = std::fs::File::create(dir.path().join("stderr.log"))?;
            let mut cmd = Command::new("bash");
            cmd.arg(broker_script())
                .args(["exec", "org.apache.kafka.tools.ProducerPerformance"])
                .args(["--bootstrap-server", brokers, "--topic", &topic])
                .args(["--num-records", &records.to_string()])
                .arg("--throughput")
                .arg(opts.knobs.rate.map_or("-1".into(), |r| r.to_string()))
                .arg("--payload-file")
                .arg(&payloads)
                .arg("--command-property")
                .args(java_properties())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err));
            cmd.spawn()
                .context("cannot start ProducerPerformance via tests/kafka/broker.sh")?
        }
    };
    let usage = wait_rusage(&mut child, CASE_LIMIT);
    let process_seconds = started.elapsed().as_secs_f64();
    let samples = sampler.finish(usage.is_ok());
    // Up to the last acknowledgement: the broker's work for this case.
    let broker_cpu = broker_cpu_seconds()
        .zip(broker_cpu_before)
        .map(|(after, before)| after - before);
    let usage = usage?;
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    if !usage.success {
        bail!(
            "the case exited with {}; stderr:\n{}\nstdout:\n{}",
            usage.status,
            tail(&log("stderr.log"), 40),
            tail(&log("stdout.log"), 20)
        );
    }
    let samples = samples?;

    // What the case says about itself, checked against what was asked.
    let mut peak_in_flight = Value::Null;
    let producer_reported = match case {
        Case::Bare | Case::BareSystem => {
            let own: Value = serde_json::from_str(log("stdout.log").trim())
                .context("the bare producer's report is not JSON")?;
            ensure!(
                own["delivered"].as_u64() == Some(records) && own["failed"].as_u64() == Some(0),
                "the bare producer reports {own}, expected {records} delivered"
            );
            own["callback_latency_ms"].clone()
        }
        Case::Source | Case::Pipeline | Case::Sources => {
            let text = std::fs::read_to_string(&summary)
                .with_context(|| format!("no summary at {}", summary.display()))?;
            let s: Value = serde_json::from_str(&text).context("the summary is not JSON")?;
            let n = if case == Case::Sources {
                MANY_SOURCES
            } else {
                1
            };
            let (mut delivered, mut failed, mut peak) = (0, 0, 0);
            for k in 0..u64::from(n) {
                let d = &s["plugins"][source_name(k, u64::from(n))];
                delivered += d["delivered"].as_u64().unwrap_or(0);
                failed += d["failed"].as_u64().unwrap_or(u64::MAX / 2);
                peak = peak.max(d["peak_in_flight"].as_u64().unwrap_or(0));
            }
            ensure!(
                delivered == records && failed == 0,
                "streamplug's summary reports {delivered} delivered and {failed} failed, expected {records} delivered: {}",
                s["plugins"]
            );
            peak_in_flight = json!(peak);
            Value::Null
        }
        Case::JavaPerf => {
            let perf = parse_perf_summary(&log("stdout.log"))?;
            ensure!(
                perf["records"].as_u64() == Some(records),
                "ProducerPerformance reports {perf}, expected {records} records"
            );
            perf
        }
    };

    // The broker's view, the same for every case.
    let final_hwm = &samples.last().context("no watermark samples")?.hwm;
    let in_topic: i64 = final_hwm.iter().sum();
    ensure!(
        in_topic == records as i64,
        "the topic holds {in_topic} records, expected {records}"
    );
    let created = read_create_times(brokers, &topic, final_hwm)?;
    let (mut lat, resolution) = latencies(&samples, &created);
    lat.sort_by(f64::total_cmp);
    let steady = steady_latency(&samples, &created);
    let (rate, window) = throughput(&samples, &created, records);
    let timeline = if opts.timeline {
        timeline(&samples, &created, 100)
    } else {
        Value::Null
    };
    if !opts.keep_topics {
        delete_topic(admin, &topic);
    }

    let cpu = usage.cpu_seconds;
    Ok(json!({
        "round": round,
        "topic": topic,
        "records_in_topic": in_topic,
        "records_per_s": rate,
        "rate_window": window,
        "mb_per_s": rate * value_bytes as f64 / MIB,
        "latency_ms": {
            "p50": percentile(&lat, 0.50),
            "p99": percentile(&lat, 0.99),
            "max": lat.last().copied(),
            "min": lat.first().copied(),
        },
        "latency_resolution_ms": resolution,
        "latency_steady_ms": steady,
        "cpu_seconds": cpu,
        "cpu_s_per_million": cpu / records as f64 * 1e6,
        "peak_rss_mib": usage.max_rss_kib as f64 / 1024.0,
        "process_seconds": process_seconds,
        "producer_reported_latency_ms": producer_reported,
        "peak_in_flight_records": peak_in_flight,
        "broker_cpu_seconds": broker_cpu,
        "broker_cpu_s_per_million": broker_cpu.map(|c| c / records as f64 * 1e6),
        "timeline": timeline,
    }))
}

/// CPU seconds (user + system) the broker's JVM has used so far, if its pid
/// file is where `tests/kafka/broker.sh` keeps it. The broker is shared, so
/// the difference over a case also counts other clients' work meanwhile.
fn broker_cpu_seconds() -> Option<f64> {
    let state = std::env::var("STREAMPLUG_KAFKA_DIR")
        .unwrap_or_else(|_| "/tmp/streamplug-kafka".to_string());
    let pid = std::fs::read_to_string(Path::new(&state).join("kafka.pid")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    // The command name (field 2) may hold spaces; fields after its `)` are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

const MIB: f64 = 1024.0 * 1024.0;

/// ProducerPerformance's producer properties, matched to streamplug's
/// `[kafka]` defaults. `buffer.memory` matches a streamplug source's default
/// `max_in_flight_bytes` (the Java default is 32 MiB).
fn java_properties() -> Vec<String> {
    let k = streamplug::config::KafkaConfig::default();
    vec![
        format!("acks={}", k.acks),
        format!("linger.ms={}", k.linger_ms),
        format!("batch.size={}", k.batch_size.0),
        format!("compression.type={}", k.compression),
        format!("enable.idempotence={}", k.idempotence),
        format!("delivery.timeout.ms={}", k.message_timeout_ms),
        "buffer.memory=67108864".into(),
        "client.id=bench-producer-performance".into(),
    ]
}

/// The 26 distinct values datagen makes at this size, one a line.
/// ProducerPerformance's `--record-size` would make random A-Z values, which
/// lz4 cannot compress as it does datagen's; with these lines as its
/// `--payload-file` it sends the same bytes the other cases send (chosen at
/// random among the 26), so the broker and the compressor see like for like.
fn java_payloads(value_bytes: usize) -> String {
    let pattern = value_pattern(value_bytes);
    let mut text = String::with_capacity(27 * (value_bytes + 1));
    for from in 0..26 {
        text.push_str(std::str::from_utf8(&pattern[from..from + value_bytes]).unwrap_or_default());
        text.push('\n');
    }
    text
}

fn broker_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kafka/broker.sh")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The final line of ProducerPerformance, e.g. `1000000 records sent,
/// 312500.0 records/sec (29.80 MB/sec), 251.38 ms avg latency, 512.00 ms max
/// latency, 245 ms 50th, 480 ms 95th, 500 ms 99th, 510 ms 99.9th.`
fn parse_perf_summary(stdout: &str) -> Result<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("records sent") && l.contains("50th"))
        .with_context(|| {
            format!(
                "no summary line in ProducerPerformance's output:\n{}",
                tail(stdout, 20)
            )
        })?;
    // Each comma-separated part starts with its number.
    let mut numbers = Vec::new();
    for part in line.split(',') {
        let n = part
            .split_whitespace()
            .next()
            .and_then(|w| w.parse::<f64>().ok())
            .with_context(|| format!("cannot read {part:?} in {line:?}"))?;
        numbers.push(n);
        // "(29.80 MB/sec)" sits inside the records/sec part.
        if let Some(mb) = part.split('(').nth(1) {
            let mb = mb
                .split_whitespace()
                .next()
                .and_then(|w| w.parse::<f64>().ok())
                .with_context(|| format!("cannot read {part:?} in {line:?}"))?;
            numbers.push(mb);
        }
    }
    ensure!(
        numbers.len() == 9,
        "unexpected ProducerPerformance summary: {line:?}"
    );
    Ok(json!({
        "what": "ProducerPerformance's own figures: send() call to its callback; its records/sec runs from its first send to the end of its final flush",
        "records": numbers[0] as u64,
        "records_per_s": numbers[1],
        "mb_per_s": numbers[2],
        "avg": numbers[3],
        "max": numbers[4],
        "p50": numbers[5],
        "p95": numbers[6],
        "p99": numbers[7],
        "p999": numbers[8],
    }))
}

// ---------------------------------------------------------------------------
// CPU and memory of a child, from the kernel

struct Usage {
    success: bool,
    status: String,
    cpu_seconds: f64,
    max_rss_kib: u64,
}

/// Waits for `child` with `wait4`, which returns the CPU time of that one
/// child (and of any children it waited for): the same measurement for a
/// Rust binary, streamplug and a JVM.
///
/// Peak RSS comes from `/proc/PID/status` (`VmHWM`), read every 2 ms until
/// the child exits, not from `ru_maxrss`: std spawns with vfork semantics,
/// and Linux carries the high-water mark of the memory the child replaced at
/// exec over into `ru_maxrss`, which here is the bench's own (it holds a
/// whole topic's timestamps by then). `VmHWM` belongs to the child's own
/// memory since exec.
fn wait_rusage(child: &mut Child, limit: Duration) -> Result<Usage> {
    let pid = child.id() as libc::pid_t;
    let status_file = format!("/proc/{pid}/status");
    let mut peak_kib = 0;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(kib) = vm_hwm_kib(&status_file) {
            peak_kib = peak_kib.max(kib);
        }
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data, for which all-zero is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped (std only reaps in
        // wait/try_wait, which are not called on it); both pointers are to
        // live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            let (success, status) = if libc::WIFEXITED(status) {
                let code = libc::WEXITSTATUS(status);
                (code == 0, format!("exit code {code}"))
            } else if libc::WIFSIGNALED(status) {
                (false, format!("signal {}", libc::WTERMSIG(status)))
            } else {
                (false, format!("wait status {status}"))
            };
            return Ok(Usage {
                success,
                status,
                cpu_seconds: secs(ru.ru_utime) + secs(ru.ru_stime),
                max_rss_kib: peak_kib,
            });
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e).context("wait4");
            }
        }
        if Instant::now() >= deadline {
            // Not reaped yet, so the pid is still ours to kill.
            let _ = child.kill();
            let _ = child.wait();
            bail!("the case did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `VmHWM` of a live process, in KiB; `None` once it has exited.
fn vm_hwm_kib(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------
// The broker's view: high watermarks over time, then CreateTime per record

/// One look at the topic's high watermarks: the broker answered at some
/// moment between `sent` and `recv` (wall clock, µs).
struct Sample {
    sent: i64,
    recv: i64,
    hwm: Vec<i64>,
}

struct Sampler {
    handle: std::thread::JoinHandle<Result<Vec<Sample>>>,
    exited: Arc<AtomicBool>,
}

impl Sampler {
    /// Samples until the topic holds `records` records (or, once the case has
    /// exited, until 10 s pass without it getting there).
    fn start(
        brokers: &str,
        topic: &str,
        partitions: i32,
        records: u64,
        every: Duration,
    ) -> Result<Sampler> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("isolation.level", "read_uncommitted")
            .create()
            .context("cannot create the watermark sampler")?;
        let mut latest = TopicPartitionList::new();
        for p in 0..partitions {
            latest.add_partition_offset(topic, p, Offset::End)?;
        }
        // One ListOffsets(LATEST) request for all partitions.
        let look = move || -> Result<Sample> {
            let sent = wall_us();
            let answer = consumer
                .offsets_for_times(latest.clone(), Duration::from_secs(5))
                .context("ListOffsets")?;
            let recv = wall_us();
            let mut hwm = Vec::with_capacity(answer.count());
            for e in answer.elements() {
                e.error()
                    .with_context(|| format!("ListOffsets, partition {}", e.partition()))?;
                match e.offset() {
                    Offset::Offset(o) => hwm.push(o),
                    other => bail!("ListOffsets: partition {}: {other:?}", e.partition()),
                }
            }
            Ok(Sample { sent, recv, hwm })
        };
        // A fresh topic may answer "not leader" for a moment after its
        // metadata shows leaders; the case starts only once it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        let first = loop {
            match look() {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("the new topic's offsets cannot be read"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let exited = Arc::new(AtomicBool::new(false));
        let flag = exited.clone();
        let handle = std::thread::spawn(move || -> Result<Vec<Sample>> {
            let mut samples = vec![first];
            let mut next = Instant::now() + every;
            let mut exited_at = None;
            let mut failing_since: Option<Instant> = None;
            loop {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                next = next.max(now) + every;
                let sample = match look() {
                    Ok(s) => {
                        failing_since = None;
                        s
                    }
                    // A missed look only widens one sampling window (and
                    // the resolution says so); a broker that stops
                    // answering fails the case.
                    Err(e) => {
                        if failing_since.get_or_insert_with(Instant::now).elapsed()
                            > Duration::from_secs(30)
                        {
                            return Err(e.context("ListOffsets failing for 30 s"));
                        }
                        continue;
                    }
                };
                let total: i64 = sample.hwm.iter().sum();
                samples.push(sample);
                if total >= records as i64 {
                    return Ok(samples);
                }
                if flag.load(Ordering::Relaxed) {
                    let at = *exited_at.get_or_insert_with(Instant::now);
                    if at.elapsed() > Duration::from_secs(10) {
                        bail!(
                            "the topic holds {total} records 10 s after the case exited, expected {records}"
                        );
                    }
                }
            }
        });
        Ok(Sampler { handle, exited })
    }

    fn finish(self, case_ended: bool) -> Result<Vec<Sample>> {
        self.exited.store(true, Ordering::Relaxed);
        if !case_ended {
            // The case failed or hung; its error is the one worth reporting.
            return Ok(Vec::new());
        }
        self.handle
            .join()
            .map_err(|_| anyhow!("the watermark sampler panicked"))?
    }
}

/// Each partition's CreateTime (ms) by offset, read back from the beginning.
fn read_create_times(brokers: &str, topic: &str, hwm: &[i64]) -> Result<Vec<Vec<i64>>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "streamplug-bench-unused")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .create()
        .context("cannot create the read-back consumer")?;
    let mut tpl = TopicPartitionList::new();
    for (p, &h) in hwm.iter().enumerate() {
        if h > 0 {
            tpl.add_partition_offset(topic, p as i32, Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl).context("assign")?;
    let mut out: Vec<Vec<i64>> = hwm
        .iter()
        .map(|&h| Vec::with_capacity(h as usize))
        .collect();
    let mut left: i64 = hwm.iter().sum();
    let mut last_progress = Instant::now();
    let mut last_error = None;
    while left > 0 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let part = out.get_mut(m.partition() as usize).with_context(|| {
                    format!("record from unexpected partition {}", m.partition())
                })?;
                // Offsets are dense (idempotent, non-transactional producers),
                // so a partition's n-th record has offset n.
                ensure!(
                    m.offset() == part.len() as i64,
                    "partition {} offset {} after {} records: offsets are not dense",
                    m.partition(),
                    m.offset(),
                    part.len()
                );
                match m.timestamp() {
                    Timestamp::CreateTime(t) => part.push(t),
                    other => bail!("record without a CreateTime: {other:?}"),
                }
                left -= 1;
            }
            // librdkafka reports connection trouble (e.g. AllBrokersDown)
            // as errors and recovers by itself; only lasting silence fails.
            Some(Err(e)) => last_error = Some(e.to_string()),
            None => {}
        }
        if last_progress.elapsed() > Duration::from_secs(60) {
            bail!(
                "reading `{topic}` back: no progress for 60 s, {left} records left (last error: {})",
                last_error.as_deref().unwrap_or("none")
            );
        }
    }
    Ok(out)
}

/// Each record's delivery latency in ms: from its CreateTime to the middle of
/// the window in which its offset became visible (between the request of the
/// last sample without it and the answer of the first sample with it), and
/// the median and largest half-width of those windows (the resolution).
fn latencies(samples: &[Sample], created: &[Vec<i64>]) -> (Vec<f64>, Value) {
    let mut seen = vec![0usize; created.len()];
    let mut out = Vec::with_capacity(created.iter().map(Vec::len).sum());
    let mut widths = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        let from = if k == 0 { s.sent } else { samples[k - 1].sent };
        let at = (from + s.recv) as f64 / 2.0;
        let before = out.len();
        for (p, times) in created.iter().enumerate() {
            let upto = (s.hwm.get(p).copied().unwrap_or(0).max(0) as usize).min(times.len());
            for &ms in &times[seen[p]..upto.max(seen[p])] {
                // CreateTime is in whole ms: the record was made within that ms.
                out.push((at - (ms as f64 * 1000.0 + 500.0)) / 1000.0);
            }
            seen[p] = seen[p].max(upto);
        }
        if out.len() > before {
            widths.push((s.recv - from) as f64 / 2000.0);
        }
    }
    widths.sort_by(f64::total_cmp);
    let resolution = json!({
        "median": percentile(&widths, 0.5),
        "max": widths.last().copied(),
    });
    (out, resolution)
}

/// Latency of the records made after the broker acknowledged the case's
/// first record, and how long that first acknowledgement took from the
/// first CreateTime. A fresh idempotent librdkafka producer sometimes gets
/// its producer id only on a 500 ms retry timer, and records made before
/// that wait for it: in a run of a few seconds, that start-up stall alone
/// can decide p99. This figure leaves it out; `latency_ms` keeps it.
fn steady_latency(samples: &[Sample], created: &[Vec<i64>]) -> Value {
    let Some(first) = samples.iter().find(|s| s.hwm.iter().sum::<i64>() > 0) else {
        return Value::Null;
    };
    // Made after the first acknowledgement was certainly visible.
    let from_ms = first.recv / 1000;
    let mut seen = vec![0usize; created.len()];
    let mut lat = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        let from = if k == 0 { s.sent } else { samples[k - 1].sent };
        let at = (from + s.recv) as f64 / 2.0;
        for (p, times) in created.iter().enumerate() {
            let upto = (s.hwm.get(p).copied().unwrap_or(0).max(0) as usize).min(times.len());
            for &ms in &times[seen[p]..upto.max(seen[p])] {
                if ms > from_ms {
                    lat.push((at - (ms as f64 * 1000.0 + 500.0)) / 1000.0);
                }
            }
            seen[p] = seen[p].max(upto);
        }
    }
    lat.sort_by(f64::total_cmp);
    let made_first = created.iter().flatten().min().copied();
    json!({
        "what": "records made after the first acknowledgement (start-up left out)",
        "records": lat.len(),
        "first_ack_after_first_create_ms": made_first.map(|m| (first.sent + first.recv) as f64 / 2000.0 - (m as f64 + 0.5)),
        "p50": percentile(&lat, 0.50),
        "p99": percentile(&lat, 0.99),
        "max": lat.last().copied(),
    })
}

/// The run over time, in `bucket_ms` buckets from the first CreateTime: per
/// bucket, how many records were made in it and their delivery latency
/// (p50, p99, max; measured as in [`latencies`]), and how many records the
/// broker acknowledged in it. It shows whether a latency tail is spread over
/// the run (steady queueing) or comes from one stretch of it (a stall).
fn timeline(samples: &[Sample], created: &[Vec<i64>], bucket_ms: i64) -> Value {
    let Some(t0) = created.iter().flatten().min().copied() else {
        return Value::Null;
    };
    let bucket = |ms: f64| ((ms - t0 as f64) / bucket_ms as f64).floor().max(0.0) as usize;
    let mut made: Vec<Vec<f64>> = Vec::new();
    let mut acked: Vec<u64> = Vec::new();
    let mut seen = vec![0usize; created.len()];
    for (k, s) in samples.iter().enumerate() {
        let from = if k == 0 { s.sent } else { samples[k - 1].sent };
        let at_ms = (from + s.recv) as f64 / 2000.0;
        for (p, times) in created.iter().enumerate() {
            let upto = (s.hwm.get(p).copied().unwrap_or(0).max(0) as usize).min(times.len());
            for &ms in &times[seen[p]..upto.max(seen[p])] {
                let b = bucket(ms as f64);
                if made.len() <= b {
                    made.resize_with(b + 1, Vec::new);
                }
                made[b].push(at_ms - (ms as f64 + 0.5));
                let a = bucket(at_ms);
                if acked.len() <= a {
                    acked.resize(a + 1, 0);
                }
                acked[a] += 1;
            }
            seen[p] = seen[p].max(upto);
        }
    }
    let rows: Vec<Value> = (0..made.len().max(acked.len()))
        .map(|b| {
            let mut lat = made.get(b).cloned().unwrap_or_default();
            lat.sort_by(f64::total_cmp);
            json!({
                "t_ms": b as i64 * bucket_ms,
                "made": lat.len(),
                "acked": acked.get(b).copied().unwrap_or(0),
                "p50": percentile(&lat, 0.5),
                "p99": percentile(&lat, 0.99),
                "max": lat.last().copied(),
            })
        })
        .collect();
    json!({ "bucket_ms": bucket_ms, "t0_unix_ms": t0, "rows": rows })
}

/// Records/s at the broker, and how the window was chosen: between the first
/// sample that saw any record and the first that saw them all (startup and
/// shutdown excluded, the same for every case); if one sample saw them all
/// at once (tiny runs), from the earliest CreateTime instead.
fn throughput(samples: &[Sample], created: &[Vec<i64>], records: u64) -> (f64, &'static str) {
    let total = |s: &Sample| s.hwm.iter().sum::<i64>();
    let mid = |s: &Sample| (s.sent + s.recv) as f64 / 2.0;
    let first = samples.iter().find(|s| total(s) > 0);
    let last = samples.iter().find(|s| total(s) >= records as i64);
    match (first, last) {
        (Some(f), Some(l)) if mid(l) > mid(f) => (
            (total(l) - total(f)) as f64 / ((mid(l) - mid(f)) / 1e6),
            "first acknowledged to last acknowledged (high-watermark samples)",
        ),
        (_, Some(l)) => {
            let made = created.iter().flatten().min().copied().unwrap_or(0) as f64 * 1000.0;
            (
                records as f64 / ((mid(l) - made).max(1.0) / 1e6),
                "first CreateTime to last acknowledged (all records were acknowledged within one sample)",
            )
        }
        _ => (f64::NAN, "no complete sample"),
    }
}

// ---------------------------------------------------------------------------
// Topics

/// Polls an admin future to completion. rdkafka's admin futures are resolved
/// by the client's own background thread, so parking until woken suffices and
/// no async runtime is needed.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Creates `topic` and waits until every partition has a leader, so that no
/// case is charged for topic creation or metadata propagation.
fn create_topic(
    admin: &AdminClient<DefaultClientContext>,
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> Result<()> {
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for result in block_on(admin.create_topics([&new], &opts)).context("CreateTopics")? {
        result.map_err(|(t, code)| anyhow!("cannot create topic {t}: {code}"))?;
    }
    let meta: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = meta
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|md| {
                md.topics().iter().find(|t| t.name() == topic).map(|t| {
                    t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                })
            })
            .unwrap_or(false);
        if ready {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "topic {topic} has no leaders 30 s after it was created"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn delete_topic(admin: &AdminClient<DefaultClientContext>, topic: &str) {
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    match block_on(admin.delete_topics(&[topic], &opts)) {
        Ok(results) => {
            for r in results {
                if let Err((t, code)) = r {
                    eprintln!("warning: cannot delete topic {t}: {code}");
                }
            }
        }
        Err(e) => eprintln!("warning: cannot delete topic {topic}: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Case (a): the bare producer, run as `bench --bare-producer TOPIC N BYTES P`

// ---------------------------------------------------------------------------
// Medians, ratios, the report

fn median(values: &mut Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The median over runs of the number at `path` (e.g. `["latency_ms", "p99"]`).
fn median_of(runs: &[Value], path: &[&str]) -> Option<f64> {
    let mut v: Vec<f64> = runs
        .iter()
        .filter_map(|r| path.iter().fold(r, |v, k| &v[*k]).as_f64())
        .collect();
    median(&mut v)
}

const METRICS: &[(&str, &[&str])] = &[
    ("records_per_s", &["records_per_s"]),
    ("mb_per_s", &["mb_per_s"]),
    ("latency_p50_ms", &["latency_ms", "p50"]),
    ("latency_p99_ms", &["latency_ms", "p99"]),
    ("latency_max_ms", &["latency_ms", "max"]),
    ("latency_steady_p50_ms", &["latency_steady_ms", "p50"]),
    ("latency_steady_p99_ms", &["latency_steady_ms", "p99"]),
    ("cpu_s_per_million", &["cpu_s_per_million"]),
    ("peak_rss_mib", &["peak_rss_mib"]),
    ("process_seconds", &["process_seconds"]),
];

/// Half the range of `path` over runs, as a percentage of its median: the
/// round-to-round spread, reported as ±.
fn spread_pct(runs: &[Value], path: &[&str]) -> Option<f64> {
    let v: Vec<f64> = runs
        .iter()
        .filter_map(|r| path.iter().fold(r, |v, k| &v[*k]).as_f64())
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    let median = median_of(runs, path)?;
    (v.len() > 1 && median != 0.0).then(|| (hi - lo) / 2.0 / median * 100.0)
}

fn summarise_size(
    value_bytes: usize,
    records: u64,
    runs: Vec<Vec<Value>>,
    paced: Option<Value>,
) -> Value {
    let medians: Vec<serde_json::Map<String, Value>> = runs
        .iter()
        .map(|r| {
            METRICS
                .iter()
                .map(|(name, path)| (name.to_string(), json!(median_of(r, path))))
                .collect()
        })
        .collect();
    let reference = medians[0].clone();
    let cases: Vec<Value> = CASES
        .into_iter()
        .zip(runs)
        .zip(&medians)
        .map(|((case, runs), m)| {
            let ratios: serde_json::Map<String, Value> = m
                .iter()
                .map(|(k, v)| {
                    let r = match (v.as_f64(), reference[k].as_f64()) {
                        (Some(x), Some(a)) if a != 0.0 => Some(x / a),
                        _ => None,
                    };
                    (k.clone(), json!(r))
                })
                .collect();
            let spread: serde_json::Map<String, Value> = METRICS
                .iter()
                .map(|(name, path)| (name.to_string(), json!(spread_pct(&runs, path))))
                .collect();
            let reported = match case {
                Case::Bare | Case::BareSystem | Case::JavaPerf => json!({
                    "p50": median_of(&runs, &["producer_reported_latency_ms", "p50"]),
                    "p99": median_of(&runs, &["producer_reported_latency_ms", "p99"]),
                    "max": median_of(&runs, &["producer_reported_latency_ms", "max"]),
                    "what": if case != Case::JavaPerf {
                        "bare loop: from when the record was made (just before send) to its delivery report, in-process"
                    } else {
                        "ProducerPerformance's own: from just before send() to its callback"
                    },
                }),
                Case::Source | Case::Pipeline | Case::Sources => Value::Null,
            };
            json!({
                "id": case.id(),
                "name": case.name(),
                "median": m,
                "ratio_to_a": ratios,
                "spread_pct": spread,
                "producer_reported_latency_ms": reported,
                "producer_reported_latency_note": match case {
                    Case::Source | Case::Pipeline | Case::Sources => "null: streamplug does not expose per-record delivery latency (its summary has counters only); use latency_ms, measured at the broker",
                    _ => "a second opinion beside latency_ms; it is not comparable across cases because each producer starts its clock differently",
                },
                "runs": runs,
            })
        })
        .collect();
    json!({ "value_bytes": value_bytes, "records": records, "cases": cases, "paced": paced })
}

fn report(opts: &Opts, brokers: &str, sizes: Vec<Value>, retries: Vec<Value>) -> Result<Value> {
    let ratio = |size: usize, case: &str, metric: &str| -> Option<f64> {
        sizes
            .iter()
            .find(|s| s["value_bytes"].as_u64() == Some(size as u64))?["cases"]
            .as_array()?
            .iter()
            .find(|c| c["id"] == case)?["ratio_to_a"][metric]
            .as_f64()
    };
    let targets = targets(&sizes, &ratio);
    let bare_properties = {
        let text = streamplug_config(brokers, "t", opts.partitions, 1, 100, false, opts.knobs);
        let config = streamplug::Config::parse(&text, Path::new("bench.toml"))?;
        properties_json(&streamplug::producer::settings::client_config(
            &config.kafka,
            brokers,
        ))
    };
    let command = if opts.smoke {
        "cargo run --release -p streamplug-tests --bin bench -- --smoke".to_string()
    } else {
        format!(
            "cargo run --release -p streamplug-tests --bin bench -- --records-100 {} --records-1k {} --rounds {} --partitions {}",
            opts.sizes[0].1, opts.sizes[1].1, opts.rounds, opts.partitions
        )
    };
    Ok(json!({
        "what": "the same keyed records produced to one real broker by (a) a bare rust-rdkafka producer loop, (b) streamplug with a datagen source, (c) streamplug with datagen -> passthrough transform -> keyhash partitioner, (d) Kafka's ProducerPerformance",
        "command": command,
        "smoke": opts.smoke,
        "note": format!(
            "runs are interleaved (a, b, c, d, a, b, c, d, ...; {} round(s)) and each figure is the median over rounds, so load on the machine from other work falls on every case alike and the ratios stay fair. Broker, bench and cases share one {}-core machine.",
            opts.rounds,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        "when_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "git_commit": git_commit(),
        "streamplug_build": streamplug_build(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "partitions": opts.partitions,
        "rounds": opts.rounds,
        "latency_sample_interval_ms": opts.sample_every.as_secs_f64() * 1000.0,
        "definitions": {
            "records_per_s": "records acknowledged by the broker per second, from the first high-watermark sample that saw any of the case's records to the first that saw all of them (process startup, topic checks and shutdown are outside the window), same for every case",
            "mb_per_s": "records_per_s x value bytes / 2^20 (values only, as ProducerPerformance counts MB)",
            "latency_ms": "per record, from its CreateTime (when the record was made: datagen's poll for (b)/(c), the loop's make time for (a), KafkaProducer.send for (d); whole ms, taken as the middle of that ms) to when its offset became visible in the partition's high watermark (acks=all with one replica: the moment the broker acknowledges), sampled every latency_sample_interval_ms; each record is placed in the middle of the sampling window in which it appeared, so a record can come out up to half a window early or late (a negative min is that error, not a record acknowledged before it was made). latency_resolution_ms gives the median and largest half-width of those windows. Same method for every case. It is the latency of an unthrottled run: once the producer outruns the broker, records queue up to the in-flight cap and latency is about that cap divided by the rate",
            "latency_steady_ms": "latency_ms of only the records made after the broker acknowledged the case's first record: leaves out a fresh idempotent librdkafka producer's occasional 500 ms wait for its producer id at start-up, which otherwise decides p99 in about half of the runs of (a), (b) and (c) (docs/performance.md)",
            "cpu_s_per_million": "user + system CPU seconds of the case's process (from wait4, including its startup and shutdown) per million records; a JVM's CPU includes its start and JIT",
            "peak_rss_mib": "peak resident set size of the case's process: VmHWM from /proc/PID/status, read every 2 ms while it runs (ru_maxrss is not used: after a vfork-style spawn it includes the spawning process's memory)",
            "process_seconds": "wall time from spawning the case's process to its exit",
            "ratio_to_a": "the case's median divided by (a)'s median, per figure",
        },
        "cases": {
            "a": "this binary (`bench --bare-producer`, with mimalloc as its allocator, like streamplug): a BaseProducer loop polled on the sending thread, with exactly streamplug's librdkafka properties (derived from the same config as (b) through streamplug::producer::settings) except queue.buffering.max.messages/kbytes, set to a streamplug source's default in-flight caps; same keys (key-0..key-999), values, `seq` header and CreateTime as datagen",
            "b": "streamplug run with one datagen source (count, value_size; defaults otherwise), no partitioner plugin (librdkafka's murmur2_random places keys)",
            "c": "streamplug run with datagen -> passthrough transform (copies every record) -> keyhash-partitioner (Java-compatible murmur2 in the plugin)",
            "d": "org.apache.kafka.tools.ProducerPerformance via tests/kafka/broker.sh exec (same Kafka version as the broker), --throughput -1, with --payload-file holding datagen's 26 distinct values for the size (so values compress like the other cases'); its records have no key and no header, and it chooses partitions with the sticky partitioner",
            "e": "streamplug run with 8 datagen sources (datagen-0 .. datagen-7) in one host, sharing the records (and, paced, the rate) and the topic; compared with (a) producing the same total",
            "a-sys": "case (a) built with the C library's allocator (the `bench-bare-system` binary; (a) and streamplug use mimalloc): the loop a user would write; one run per size, in round 1",
        },
        "producer_properties": {
            "a_b_c_librdkafka": bare_properties,
            "d_java": java_properties(),
        },
        "targets": targets,
        "retried_runs": retries,
        "targets_not_measured_here": "per-stage cost (stage-cost bench), instantiation time and 1000-instance RSS are issue 6 items 2 and 3; the CPU accounting of (c) against (a) is in docs/performance.md",
        "sizes": sizes,
    }))
}

/// The targets of issue 11, as measured in this run.
fn targets(sizes: &[Value], ratio: &dyn Fn(usize, &str, &str) -> Option<f64>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut target = |what: String, measured: Option<f64>, means: &str, met: Option<bool>| {
        out.push(
            json!({ "target": what, "measured": measured, "measured_means": means, "met": met }),
        );
    };
    for size in [100usize, 1024] {
        let label = size_label(size);
        let (b, c, d, e) = (
            ratio(size, "b", "records_per_s"),
            ratio(size, "c", "records_per_s"),
            ratio(size, "d", "records_per_s"),
            ratio(size, "e", "records_per_s"),
        );
        let want = if size == 100 { 0.95 } else { 1.0 };
        target(
            format!("(c)/(a) >= {want:.2} records/s at {label} values"),
            c,
            "(c)/(a) records/s",
            c.map(|c| c >= want),
        );
        target(
            format!("(b)/(a) >= 1.00 records/s at {label} values"),
            b,
            "(b)/(a) records/s",
            b.map(|b| b >= 1.0),
        );
        let cpu = ratio(size, "c", "cpu_s_per_million");
        target(
            format!("CPU per record of (c) <= 1.10 x (a) at {label} values"),
            cpu,
            "(c)/(a) CPU s per M records",
            cpu.map(|r| r <= 1.10),
        );
        let cd = c.zip(d).filter(|(_, d)| *d != 0.0).map(|(c, d)| c / d);
        target(
            format!("(c) >= 1.3 x ProducerPerformance records/s at {label} values"),
            cd,
            "(c)/(d) records/s",
            cd.map(|r| r >= 1.3),
        );
        target(
            format!("(e) 8 sources >= 0.95 x (a) records/s at {label} values"),
            e,
            "(e)/(a) records/s",
            e.map(|e| e >= 0.95),
        );
        let paced = sizes
            .iter()
            .find(|s| s["value_bytes"].as_u64() == Some(size as u64))
            .map(|s| &s["paced"]["cases"]);
        let p99 = |id: &str| {
            paced
                .and_then(Value::as_array)
                .and_then(|cases| cases.iter().find(|c| c["id"] == id))
                .and_then(|c| c["median"]["latency_p99_ms"].as_f64())
        };
        let excess = p99("c").zip(p99("a")).map(|(c, a)| c - a);
        target(
            format!("fixed-rate p99 of (c) <= (a)'s p99 + 5 ms at {label} values"),
            excess,
            "(c)'s p99 minus (a)'s, ms",
            excess.map(|x| x <= 5.0),
        );
    }
    out
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Which streamplug was measured: the bench copies target/release/streamplug
/// at its start, which may hold uncommitted changes to host/.
fn streamplug_build() -> Value {
    let built = streamplug_tests::streamplug_bin();
    let modified = std::fs::metadata(&built)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--", "host", "plugins", "wit"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty());
    json!({
        "binary": built.display().to_string(),
        "modified_unix_s": modified,
        "uncommitted_changes_in_host_plugins_wit": dirty,
    })
}

fn size_label(bytes: usize) -> String {
    if bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes}-byte")
    }
}

/// `1234567.0` → `1,234,567`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn fmt_opt(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "n/a".into(), |x| format!("{x:.digits$}"))
}

/// The README table: one row per case and size, each figure with its ratio to (a).
fn markdown_table(report: &Value) -> String {
    let mut t = String::from(
        "| values | case | records/s (spread) | MB/s | latency p50 / p99 / max (ms) | CPU s per M records (spread) | peak RSS (MiB) |\n|---|---|---|---|---|---|---|\n",
    );
    for size in report["sizes"].as_array().into_iter().flatten() {
        let label = size_label(size["value_bytes"].as_u64().unwrap_or(0) as usize);
        for c in size["cases"].as_array().into_iter().flatten() {
            let m = &c["median"];
            let r = &c["ratio_to_a"];
            let cell = |k: &str, digits: usize| {
                if c["id"] == "a" {
                    fmt_opt(&m[k], digits)
                } else {
                    format!("{} ({}×)", fmt_opt(&m[k], digits), fmt_opt(&r[k], 2))
                }
            };
            let spread = |k: &str| {
                c["spread_pct"][k]
                    .as_f64()
                    .map_or(String::new(), |p| format!(" ±{p:.1}%"))
            };
            let rps = if c["id"] == "a" {
                thousands(m["records_per_s"].as_f64().unwrap_or(0.0))
            } else {
                format!(
                    "{} ({}×)",
                    thousands(m["records_per_s"].as_f64().unwrap_or(0.0)),
                    fmt_opt(&r["records_per_s"], 2)
                )
            } + &spread("records_per_s");
            let _ = writeln!(
                t,
                "| {label} | ({}) {} | {rps} | {} | {} / {} / {} | {} | {} |",
                c["id"].as_str().unwrap_or("?"),
                c["name"].as_str().unwrap_or("?"),
                cell("mb_per_s", 1),
                fmt_opt(&m["latency_p50_ms"], 1),
                fmt_opt(&m["latency_p99_ms"], 1),
                fmt_opt(&m["latency_max_ms"], 1),
                cell("cpu_s_per_million", 2) + &spread("cpu_s_per_million"),
                cell("peak_rss_mib", 0),
            );
        }
    }
    t + &paced_table(report)
}

/// The fixed-rate latency runs: one row per case and size.
fn paced_table(report: &Value) -> String {
    let mut t = String::from(
        "\n| values | paced at (records/s) | case | records/s | latency p50 / p99 / max (ms) | CPU s per M records |\n|---|---|---|---|---|---|\n",
    );
    for size in report["sizes"].as_array().into_iter().flatten() {
        let label = size_label(size["value_bytes"].as_u64().unwrap_or(0) as usize);
        let rate = thousands(size["paced"]["rate"].as_f64().unwrap_or(0.0));
        for c in size["paced"]["cases"].as_array().into_iter().flatten() {
            let m = &c["median"];
            let _ = writeln!(
                t,
                "| {label} | {rate} | ({}) {} | {} | {} / {} / {} | {} |",
                c["id"].as_str().unwrap_or("?"),
                c["name"].as_str().unwrap_or("?"),
                thousands(m["records_per_s"].as_f64().unwrap_or(0.0)),
                fmt_opt(&m["latency_p50_ms"], 1),
                fmt_opt(&m["latency_p99_ms"], 1),
                fmt_opt(&m["latency_max_ms"], 1),
                fmt_opt(&m["cpu_s_per_million"], 2),
            );
        }
    }
    t
}

// ---------------------------------------------------------------------------
// The chart

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A grouped bar chart of records/s: one group per value size, one bar per
/// case, each labelled with its rate and its ratio to (a).
fn svg_chart(report: &Value) -> String {
    const W: f64 = 820.0;
    const H: f64 = 460.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 60.0;
    const BOTTOM: f64 = 110.0;
    const COLORS: [&str; 6] = [
        "#4c72b0", "#55a868", "#8172b2", "#c44e52", "#dd8452", "#937860",
    ];
    let sizes: Vec<&Value> = report["sizes"].as_array().into_iter().flatten().collect();
    let rate = |c: &Value| c["median"]["records_per_s"].as_f64().unwrap_or(0.0);
    let max = sizes
        .iter()
        .flat_map(|s| s["cases"].as_array().into_iter().flatten())
        .map(rate)
        .fold(0.0, f64::max);
    // A round axis: 1, 2 or 5 times a power of ten per gridline.
    let raw_step = (max / 5.0).max(1.0);
    let pow = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw_step)
        .unwrap_or(10.0 * pow);
    let top = (max / step).ceil().max(1.0) * step * 1.1;
    let plot_h = H - TOP - BOTTOM;
    let plot_w = W - LEFT - RIGHT;
    let y = |v: f64| TOP + plot_h * (1.0 - v / top);

    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">Records/s to one Kafka broker (median of {} interleaved rounds; higher is better)</text>\n\
         <text x=\"{}\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">labels: rate, and ratio to (a) the bare rust-rdkafka producer · {}</text>\n",
        W / 2.0,
        report["rounds"],
        W / 2.0,
        xml_escape(report["command"].as_str().unwrap_or("")).replace(
            "cargo run --release -p streamplug-tests --bin bench -- ",
            "bench "
        ),
    );
    let mut g = 0.0;
    while g <= top + 1e-9 {
        let yy = y(g);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            if g >= 1e6 {
                format!("{:.1}M", g / 1e6)
            } else {
                format!("{:.0}k", g / 1e3)
            }
        );
        g += step;
    }
    let group_w = plot_w / sizes.len().max(1) as f64;
    let bar_w = (group_w * 0.8 / CASES.len() as f64).min(90.0);
    for (gi, size) in sizes.iter().enumerate() {
        let cases: Vec<&Value> = size["cases"].as_array().into_iter().flatten().collect();
        let gx = LEFT + gi as f64 * group_w + (group_w - bar_w * cases.len() as f64) / 2.0;
        for (ci, c) in cases.iter().enumerate() {
            let v = rate(c);
            let x = gx + ci as f64 * bar_w;
            let ratio = c["ratio_to_a"]["records_per_s"]
                .as_f64()
                .map_or("n/a".into(), |r| format!("{r:.2}×"));
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}k</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{ratio}</text>",
                x + 3.0,
                y(v),
                bar_w - 6.0,
                (y(0.0) - y(v)).max(0.0),
                COLORS[ci % COLORS.len()],
                x + bar_w / 2.0,
                y(v) - 20.0,
                thousands(v / 1e3),
                x + bar_w / 2.0,
                y(v) - 6.0,
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"14\">{} values, {} records</text>",
            LEFT + (gi as f64 + 0.5) * group_w,
            y(0.0) + 20.0,
            size_label(size["value_bytes"].as_u64().unwrap_or(0) as usize),
            thousands(size["records"].as_f64().unwrap_or(0.0)),
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#333\"/>",
        y(0.0),
        W - RIGHT,
        y(0.0)
    );
    // Two columns, two rows: the full names do not fit on one line.
    for (ci, case) in CASES.into_iter().enumerate() {
        let x = LEFT + (ci % 2) as f64 * plot_w / 2.0;
        let ly = H - 64.0 + (ci / 2) as f64 * 20.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">({}) {}</text>",
            ly - 10.0,
            COLORS[ci],
            x + 16.0,
            case.id(),
            xml_escape(case.name())
        );
    }
    s.push_str("</svg>\n");
    s
}
