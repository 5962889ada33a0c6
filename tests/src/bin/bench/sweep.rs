//! `bench --sweep`: the measurements behind `docs/performance.md`.
//!
//! Case (c) (datagen → passthrough → keyhash-partitioner) runs against the
//! real broker over `linger.ms` × value size, twice per point:
//!
//! - **unthrottled**: datagen as fast as the host asks. Gives throughput
//!   (records/s, MB/s) and the latency of a saturated pipeline;
//! - **paced**: datagen held to a light, fixed rate. Gives the latency a
//!   record sees when nothing queues: about `linger.ms` plus a round trip.
//!
//! and the model's parameters are measured beside them:
//!
//! - **plugin rate**: datagen → passthrough → keyhash in-process on one
//!   thread, with no producer: what the plugins alone could feed;
//! - **producer rate**: case (a), the bare rust-rdkafka loop, at the same
//!   `linger.ms` and size: what one librdkafka producer gets through here;
//! - **broker CPU per record**: the broker JVM's CPU time over each run;
//! - **round trip**: one record at a time, `linger.ms = 0`, to its delivery
//!   report, on an otherwise idle topic.
//!
//! Throughput and latency are measured at the broker exactly as the main
//! bench does (high-watermark samples, CreateTime read back).
//!
//! ```text
//! STREAMPLUG_TEST_BROKERS=127.0.0.1:39092 cargo run --release -p streamplug-tests --bin bench -- --sweep [OPTIONS]
//!   --rounds R        rounds over the whole grid (1); figures are medians
//!   --lingers LIST    linger.ms values (0,5,20,50,100)
//!   --scale X         multiply the unthrottled record counts (1.0):
//!                     100 B 600000, 1 KiB 300000, 10 KiB 40000
//!   --paced-rate N    records/s of the paced runs (5000)
//!   --paced-seconds S length of each paced run (3)
//!   --out PATH        JSON (tests/bench-results/sweep.json)
//!   --svg PATH        chart (beside the JSON, sweep.svg)
//!   --smoke           linger 0 and 20, 100 B only, a few thousand records,
//!                     to a temp dir
//!   --replot          only redraw the chart from an existing --out JSON
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use serde_json::{Value, json};
use streamplug::config::{Capabilities, KafkaConfig, PluginLimits};
use streamplug::plugin::bindings::PollResult;
use streamplug::plugin::{
    self, CompileCache, PartitionerInstance, SourceInstance, TransformInstance,
};
use streamplug_codec::BatchReader;
use streamplug_tests::{Scratch, artifacts, brokers, unique_topic};

use super::{
    Case, Knobs, MIB, Opts, create_topic, delete_topic, fmt_opt, git_commit, median_of, parse_num,
    percentile, print_usage_of, run_case, size_label, streamplug_build, thousands, xml_escape,
};

/// (value bytes, linger.ms, kind of run) and that point's runs, one a round.
type PointRuns = ((usize, u64, &'static str), Vec<Value>);

struct SweepOpts {
    lingers: Vec<u64>,
    /// (value bytes, records of an unthrottled run).
    sizes: Vec<(usize, u64)>,
    paced_rate: u64,
    paced_seconds: f64,
    rounds: usize,
    out: PathBuf,
    svg: PathBuf,
    smoke: bool,
    replot: bool,
    command: String,
}

impl SweepOpts {
    fn parse(args: &[String]) -> Result<Self> {
        let smoke = args.iter().any(|a| a == "--smoke");
        let mut lingers = if smoke {
            vec![0, 20]
        } else {
            vec![0, 5, 20, 50, 100]
        };
        let mut scale = 1.0f64;
        let mut paced_rate = if smoke { 2000 } else { 5000 };
        let mut paced_seconds = if smoke { 1.0 } else { 3.0 };
        let mut rounds = 1;
        let mut out = None;
        let mut svg = None;
        let mut replot = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |what: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{arg} needs {what}"))
            };
            match arg.as_str() {
                "--smoke" => {}
                "--replot" => replot = true,
                "--rounds" => rounds = parse_num(&value("a number")?, arg)?,
                "--scale" => scale = parse_num(&value("a factor")?, arg)?,
                "--paced-rate" => paced_rate = parse_num(&value("records/s")?, arg)?,
                "--paced-seconds" => paced_seconds = parse_num(&value("seconds")?, arg)?,
                "--lingers" => {
                    lingers = value("a list")?
                        .split(',')
                        .map(|l| parse_num(l.trim(), arg))
                        .collect::<Result<_>>()?;
                }
                "--out" => out = Some(PathBuf::from(value("a path")?)),
                "--svg" => svg = Some(PathBuf::from(value("a path")?)),
                "-h" | "--help" => {
                    print_usage();
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (see --sweep --help)"),
            }
        }
        ensure!(
            rounds > 0 && scale > 0.0 && paced_rate > 0 && paced_seconds > 0.0,
            "--rounds, --scale, --paced-rate and --paced-seconds must be above 0"
        );
        ensure!(!lingers.is_empty(), "--lingers is empty");
        let count = |n: f64| ((n * scale) as u64).max(1000);
        let sizes = if smoke {
            vec![(100, 3000)]
        } else {
            vec![
                (100, count(600_000.0)),
                (1024, count(300_000.0)),
                (10240, count(40_000.0)),
            ]
        };
        let default_dir = if smoke {
            std::env::temp_dir().join(unique_topic("streamplug-sweep-smoke"))
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results")
        };
        let out = out.unwrap_or_else(|| default_dir.join("sweep.json"));
        let svg = svg.unwrap_or_else(|| out.with_extension("svg"));
        let command = format!(
            "cargo run --release -p streamplug-tests --bin bench -- --sweep {}",
            args.join(" ")
        );
        Ok(SweepOpts {
            lingers,
            sizes,
            paced_rate,
            paced_seconds,
            rounds,
            out,
            svg,
            smoke,
            replot,
            command: command.trim_end().to_string(),
        })
    }
}

fn print_usage() {
    print_usage_of(include_str!("sweep.rs"));
}

fn loadavg() -> Value {
    let text = streamplug_tests::loadavg();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|w| w.parse().ok())
        .collect();
    json!({ "raw": text, "1m": v.first(), "5m": v.get(1), "15m": v.get(2) })
}

pub fn main(args: &[String]) -> Result<()> {
    let sw = SweepOpts::parse(args)?;
    if sw.replot {
        let text = std::fs::read_to_string(&sw.out)
            .with_context(|| format!("cannot read {}", sw.out.display()))?;
        let report: Value = serde_json::from_str(&text).context("the sweep JSON")?;
        std::fs::write(&sw.svg, svg_chart(&report))
            .with_context(|| format!("cannot write {}", sw.svg.display()))?;
        println!("{}", markdown_table(&report));
        println!("redrawn: {}", sw.svg.display());
        return Ok(());
    }
    let load_start = loadavg();
    let started = Instant::now();
    let brokers = brokers();
    let private = Scratch::new("sweep-bin");
    let binary = private.path().join("streamplug");
    let built = streamplug_tests::streamplug_bin();
    std::fs::copy(&built, &binary).with_context(|| format!("cannot copy {}", built.display()))?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .context("cannot create the admin client")?;
    let base = Opts {
        sizes: Vec::new(),
        rounds: sw.rounds,
        partitions: 6,
        sample_every: Duration::from_millis(5),
        out: sw.out.clone(),
        svg: sw.svg.clone(),
        keep_topics: false,
        warmup: false,
        smoke: sw.smoke,
        paced_seconds: 0.0,
        streamplug: binary,
        bare_system: PathBuf::new(),
        knobs: Knobs::default(),
        timeline: true,
    };

    eprintln!("warm-up: case (c) with 1000 records");
    run_case(Case::Pipeline, 100, 1000, &base, &admin, &brokers, 0).context("warm-up")?;

    let rtt = round_trip(&admin, &brokers, if sw.smoke { 20 } else { 300 })
        .context("round-trip probe")?;
    eprintln!(
        "round trip, one record at linger 0: p50 {:.2} ms  p99 {:.2} ms",
        rtt["p50_ms"].as_f64().unwrap_or(f64::NAN),
        rtt["p99_ms"].as_f64().unwrap_or(f64::NAN)
    );

    let startup =
        startup(&admin, &brokers, if sw.smoke { 2 } else { 12 }).context("startup probe")?;
    for (k, v) in startup.as_object().into_iter().flatten() {
        eprintln!(
            "startup, {k}: first acknowledgement after a median {:.0} ms, {} of {} over 400 ms",
            v["median_ms"].as_f64().unwrap_or(f64::NAN),
            v["starts_over_400_ms"],
            v["probes"]
        );
    }

    let mut plugin_rates = Vec::new();
    for &(value_bytes, _) in &sw.sizes {
        let r = plugin_rate(value_bytes, if sw.smoke { 0.2 } else { 1.0 })
            .with_context(|| format!("plugin rate at {value_bytes} B"))?;
        eprintln!(
            "plugin rate, {value_bytes:>5} B: {:>10.0} records/s on one thread",
            r["records_per_s"].as_f64().unwrap_or(f64::NAN)
        );
        plugin_rates.push(r);
    }

    // (value bytes, linger, kind) → runs over rounds.
    let mut runs: Vec<PointRuns> = Vec::new();
    let mut retries = Vec::new();
    for round in 1..=sw.rounds {
        for &(value_bytes, records) in &sw.sizes {
            for &linger in &sw.lingers {
                let paced_records = ((sw.paced_rate as f64 * sw.paced_seconds) as u64).max(100);
                for (kind, case, records, rate) in [
                    ("producer", Case::Bare, records, None),
                    ("pipeline", Case::Pipeline, records, None),
                    ("paced", Case::Pipeline, paced_records, Some(sw.paced_rate)),
                ] {
                    let opts = Opts {
                        knobs: Knobs {
                            linger_ms: Some(linger),
                            rate,
                            ..Knobs::default()
                        },
                        ..base.clone()
                    };
                    let what =
                        || format!("{kind}, {value_bytes} B, linger {linger} ms, round {round}");
                    let run = match run_case(
                        case,
                        value_bytes,
                        records,
                        &opts,
                        &admin,
                        &brokers,
                        round,
                    ) {
                        Ok(run) => run,
                        Err(e) => {
                            eprintln!("{}: {e:#}; retrying once", what());
                            retries.push(json!({ "run": what(), "error": format!("{e:#}") }));
                            run_case(case, value_bytes, records, &opts, &admin, &brokers, round)
                                .with_context(what)?
                        }
                    };
                    eprintln!(
                        "{value_bytes:>5} B  linger {linger:>3}  {kind:<8}  {:>9.0} rec/s  {:>7.1} MB/s  steady p50 {:>6.1} p99 {:>6.1} ms (p99 with start-up {:>6.1})  peak in flight {}",
                        run["records_per_s"].as_f64().unwrap_or(f64::NAN),
                        run["mb_per_s"].as_f64().unwrap_or(f64::NAN),
                        run["latency_steady_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
                        run["latency_steady_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
                        run["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
                        run["peak_in_flight_records"],
                    );
                    let key = (value_bytes, linger, kind);
                    match runs.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => v.push(run),
                        None => runs.push((key, vec![run])),
                    }
                }
            }
        }
    }

    let points = summarise(&sw, &runs, &plugin_rates, &rtt);
    let report = json!({
        "what": "streamplug case (c) (datagen -> passthrough -> keyhash-partitioner) against one real broker over linger.ms x value size, with the performance model's parameters measured beside it; see docs/performance.md",
        "command": sw.command,
        "smoke": sw.smoke,
        "when_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "git_commit": git_commit(),
        "streamplug_build": streamplug_build(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "sweep_seconds": started.elapsed().as_secs_f64(),
        "rounds": sw.rounds,
        "partitions": base.partitions,
        "lingers_ms": sw.lingers,
        "paced_rate_records_per_s": sw.paced_rate,
        "paced_seconds": sw.paced_seconds,
        "producer_settings": "streamplug's [kafka] defaults (1 MiB batches, lz4, acks=all, idempotence, murmur2_random) with linger.ms as given; the source's in-flight caps are the defaults (100,000 records, 64 MiB)",
        "definitions": {
            "records_per_s, mb_per_s, latency_ms": "as in bench.json: measured at the broker from high-watermark samples every 5 ms and each record's CreateTime",
            "latency_p50_ms, latency_p99_ms in points": "steady state: only records made after the broker acknowledged the run's first record (latency_steady_ms of each run), so that librdkafka's occasional 500 ms wait for a producer id at start-up (see startup) does not decide p99; latency_p99_ms_with_startup keeps every record",
            "unthrottled": "case (c), datagen as fast as the host asks",
            "paced": "case (c), datagen held to paced_rate_records_per_s: latency with nothing queued",
            "producer": "case (a), the bare rust-rdkafka loop with the same properties and linger.ms: the producer rate",
            "plugin_rate": "datagen poll -> batch check -> passthrough -> batch check -> keyhash partition, in-process on one thread, no producer",
            "startup": "a fresh producer with streamplug's settings, from its creation to its first delivery report: as the host starts it (metadata through the producer, then send), and with metadata fetched again until a learned broker (not the bootstrap address) answers; shows librdkafka's 500 ms producer-id timer",
            "round_trip": "one record at a time with linger.ms = 0 and streamplug's other settings, from send to its delivery report, on an idle 1-partition topic",
            "broker_cpu_s_per_million": "the broker JVM's user + system CPU over the run (start of the case to its last acknowledgement) per million records; includes the bench's own watermark sampling and any other client of the shared broker",
            "model": "throughput: min(plugin rate, producer rate, broker rate); cpu_bound: cpus / (CPU per record of the case + of the broker), for when all of them share the machine; latency: linger + queueing + round trip, queueing from Little's law as peak records in flight / records per second",
        },
        "round_trip": rtt,
        "startup": startup,
        "plugin_rate": plugin_rates,
        "points": points,
        "retried_runs": retries,
        "runs": runs.iter().map(|((b, l, k), v)| json!({
            "value_bytes": b, "linger_ms": l, "kind": k, "runs": v,
        })).collect::<Vec<_>>(),
    });
    for path in [&sw.out, &sw.svg] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    std::fs::write(&sw.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", sw.out.display()))?;
    std::fs::write(&sw.svg, svg_chart(&report))
        .with_context(|| format!("cannot write {}", sw.svg.display()))?;
    println!("{}", markdown_table(&report));
    println!("written to {} and {}", sw.out.display(), sw.svg.display());
    Ok(())
}

/// The median over rounds of one figure of one kind of run at a point.
fn med(runs: &[PointRuns], key: (usize, u64, &str), path: &[&str]) -> Option<f64> {
    let found = runs.iter().find(|(k, _)| *k == key)?;
    median_of(&found.1, path)
}

/// One row per (size, linger): the measured figures and the model's.
fn summarise(
    sw: &SweepOpts,
    runs: &[PointRuns],
    plugin_rates: &[Value],
    rtt: &Value,
) -> Vec<Value> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let rtt_ms = rtt["p50_ms"].as_f64();
    let mut points = Vec::new();
    for (i, &(value_bytes, records)) in sw.sizes.iter().enumerate() {
        let plugin = plugin_rates[i]["records_per_s"].as_f64();
        for &linger in &sw.lingers {
            let m = |kind: &str, path: &[&str]| med(runs, (value_bytes, linger, kind), path);
            let rate = m("pipeline", &["records_per_s"]);
            let producer = m("producer", &["records_per_s"]);
            let broker_cpu = m("pipeline", &["broker_cpu_s_per_million"]);
            let case_cpu = m("pipeline", &["cpu_s_per_million"]);
            // If the broker had the machine to itself.
            let broker_rate = broker_cpu.filter(|c| *c > 0.0).map(|c| cpus / c * 1e6);
            let min_model = [plugin, producer, broker_rate]
                .into_iter()
                .flatten()
                .fold(None, |acc: Option<f64>, x| {
                    Some(acc.map_or(x, |a| a.min(x)))
                });
            // Everything on one machine: the CPU each record costs, all told.
            let cpu_bound = match (case_cpu, broker_cpu) {
                (Some(c), Some(b)) if c + b > 0.0 => Some(cpus / (c + b) * 1e6),
                _ => None,
            };
            let peak = m("pipeline", &["peak_in_flight_records"]);
            let queueing_ms = match (peak, rate) {
                (Some(p), Some(r)) if r > 0.0 => Some(p / r * 1e3),
                _ => None,
            };
            let latency_light = rtt_ms.map(|r| linger as f64 + r);
            let latency_loaded = match (queueing_ms, rtt_ms) {
                (Some(q), Some(r)) => Some(linger as f64 + q + r),
                _ => None,
            };
            points.push(json!({
                "value_bytes": value_bytes,
                "linger_ms": linger,
                "records": records,
                "unthrottled": {
                    "records_per_s": rate,
                    "mb_per_s": m("pipeline", &["mb_per_s"]),
                    "latency_p50_ms": m("pipeline", &["latency_steady_ms", "p50"]),
                    "latency_p99_ms": m("pipeline", &["latency_steady_ms", "p99"]),
                    "latency_max_ms": m("pipeline", &["latency_steady_ms", "max"]),
                    "latency_p99_ms_with_startup": m("pipeline", &["latency_ms", "p99"]),
                    "first_ack_after_ms": m("pipeline", &["latency_steady_ms", "first_ack_after_first_create_ms"]),
                    "cpu_s_per_million": case_cpu,
                    "broker_cpu_s_per_million": broker_cpu,
                    "peak_in_flight_records": peak,
                },
                "paced": {
                    "records_per_s_offered": sw.paced_rate,
                    "latency_p50_ms": m("paced", &["latency_steady_ms", "p50"]),
                    "latency_p99_ms": m("paced", &["latency_steady_ms", "p99"]),
                    "latency_max_ms": m("paced", &["latency_steady_ms", "max"]),
                    "latency_p99_ms_with_startup": m("paced", &["latency_ms", "p99"]),
                    "first_ack_after_ms": m("paced", &["latency_steady_ms", "first_ack_after_first_create_ms"]),
                },
                "producer": {
                    "records_per_s": producer,
                    "mb_per_s": m("producer", &["mb_per_s"]),
                    "latency_p99_ms": m("producer", &["latency_steady_ms", "p99"]),
                    "cpu_s_per_million": m("producer", &["cpu_s_per_million"]),
                    "broker_cpu_s_per_million": m("producer", &["broker_cpu_s_per_million"]),
                },
                "model": {
                    "plugin_rate": plugin,
                    "producer_rate": producer,
                    "broker_rate_whole_machine": broker_rate,
                    "min_of_rates": min_model,
                    "measured_over_min": rate.zip(min_model).map(|(r, p)| r / p),
                    "cpu_bound_rate": cpu_bound,
                    "measured_over_cpu_bound": rate.zip(cpu_bound).map(|(r, p)| r / p),
                    "queueing_ms": queueing_ms,
                    "latency_light_ms": latency_light,
                    "latency_loaded_ms": latency_loaded,
                },
            }));
        }
    }
    points
}

/// Produce-to-acknowledgement time of one record with nothing else in
/// flight: linger 0 and streamplug's other producer settings, one send at a
/// time, each waited for. It is the "round trip" term of the latency model:
/// request, append to the log, response.
fn round_trip(
    admin: &AdminClient<DefaultClientContext>,
    brokers: &str,
    probes: usize,
) -> Result<Value> {
    let topic = unique_topic("sweep-rtt");
    create_topic(admin, brokers, &topic, 1)?;
    let kafka = KafkaConfig {
        linger_ms: 0,
        ..KafkaConfig::default()
    };
    let producer: BaseProducer<Acks> =
        streamplug::producer::settings::client_config(&kafka, brokers)
            .set("client.id", "bench-sweep-rtt")
            .create_with_context(Acks::default())
            .context("cannot create the round-trip producer")?;
    producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(30))
        .context("metadata")?;
    let value = vec![b'x'; 100];
    let mut times = Vec::with_capacity(probes);
    // The first few pay for the connection and the producer id.
    for i in 0..probes + 10 {
        let t = Instant::now();
        producer
            .send(
                BaseRecord::<[u8], [u8]>::to(&topic)
                    .key(b"k".as_slice())
                    .payload(value.as_slice()),
            )
            .map_err(|(e, _)| anyhow!("send: {e}"))?;
        // Not flush(), nor poll() with a long timeout: both came back only
        // after 100 ms here, however early the report was. Short polls
        // resolve it to about a millisecond.
        let deadline = Instant::now() + Duration::from_secs(10);
        while producer.context().acked.load(Ordering::Relaxed) <= i as u64 {
            ensure!(Instant::now() < deadline, "no delivery report within 10 s");
            producer.poll(Duration::from_millis(1));
        }
        if let Some(e) = producer
            .context()
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            bail!("delivery failed: {e}");
        }
        if i >= 10 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // Spaced out so that each probe finds the broker idle from the last.
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(producer);
    delete_topic(admin, &topic);
    times.sort_by(f64::total_cmp);
    Ok(json!({
        "probes": probes,
        "p50_ms": percentile(&times, 0.5),
        "p99_ms": percentile(&times, 0.99),
        "min_ms": times.first(),
        "max_ms": times.last(),
    }))
}

/// How long a fresh producer with streamplug's settings takes from its
/// creation to the first delivery report, `probes` times, each way:
///
/// - `as_host_starts`: what `streamplug run` does: create the producer,
///   fetch the topic's metadata through it, send;
/// - `metadata_from_a_learned_broker`: the same, but metadata is fetched
///   again until a response comes from the broker by its node id, not the
///   bootstrap address, before sending.
///
/// librdkafka asks for an idempotent producer's id when a metadata response
/// arrives while a broker connection is up, and otherwise on a 500 ms timer.
/// The host's metadata check is answered by the bootstrap connection before
/// the leader's connection is up, so about half of all starts wait for the
/// timer. A response from the learned broker means its connection is up, so
/// handling it requests the id at once.
fn startup(
    admin: &AdminClient<DefaultClientContext>,
    brokers: &str,
    probes: usize,
) -> Result<Value> {
    let topic = unique_topic("sweep-startup");
    create_topic(admin, brokers, &topic, 1)?;
    let mut result = serde_json::Map::new();
    for (name, wait_for_learned) in [
        ("as_host_starts", false),
        ("metadata_from_a_learned_broker", true),
    ] {
        let mut first_ack_ms = Vec::new();
        let mut ready_ms = Vec::new();
        for _ in 0..probes {
            let t = Instant::now();
            let producer: BaseProducer<Acks> =
                streamplug::producer::settings::client_config(&KafkaConfig::default(), brokers)
                    .set("client.id", "bench-sweep-startup")
                    .create_with_context(Acks::default())
                    .context("cannot create the startup producer")?;
            let md = producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .context("metadata")?;
            if wait_for_learned && md.orig_broker_id() < 0 {
                let deadline = Instant::now() + Duration::from_secs(2);
                loop {
                    std::thread::sleep(Duration::from_millis(10));
                    let md = producer
                        .client()
                        .fetch_metadata(Some(&topic), Duration::from_secs(10))
                        .context("metadata")?;
                    if md.orig_broker_id() >= 0 || Instant::now() >= deadline {
                        break;
                    }
                }
            }
            ready_ms.push(t.elapsed().as_secs_f64() * 1e3);
            producer
                .send(BaseRecord::<[u8], [u8]>::to(&topic).payload(b"x".as_slice()))
                .map_err(|(e, _)| anyhow!("send: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while producer.context().acked.load(Ordering::Relaxed) == 0 {
                ensure!(Instant::now() < deadline, "no delivery report within 10 s");
                producer.poll(Duration::from_millis(1));
            }
            first_ack_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let over_400 = first_ack_ms.iter().filter(|ms| **ms > 400.0).count();
        let mut sorted = first_ack_ms.clone();
        sorted.sort_by(f64::total_cmp);
        result.insert(
            name.to_string(),
            json!({
                "creation_to_first_ack_ms": first_ack_ms,
                "creation_to_send_ms": ready_ms,
                "median_ms": percentile(&sorted, 0.5),
                "starts_over_400_ms": over_400,
                "probes": probes,
            }),
        );
    }
    delete_topic(admin, &topic);
    Ok(Value::Object(result))
}

/// Counts delivery reports for the round-trip probe.
#[derive(Default)]
struct Acks {
    acked: AtomicU64,
    error: Mutex<Option<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
        }
        self.acked.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records/s that datagen → passthrough → keyhash-partitioner sustain on one
/// thread inside the host's sandbox, with the host's batch checks and no
/// producer: the plugins' side of the model.
fn plugin_rate(value_bytes: usize, seconds: f64) -> Result<Value> {
    const BATCH: u32 = 1024;
    let engine = streamplug::engine::build(true)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, std::env::temp_dir().join("streamplug-bench-cache"));
    let load = |path: &str| plugin::load(&engine, &linker, &cache, path.as_ref());
    let limits = PluginLimits::default();
    let none = Capabilities::default();
    let name = Arc::new(streamplug::plugin::PluginLog::new("sweep", None));
    let err = |e: streamplug::plugin::PluginError| anyhow!("{e}");
    let settings = vec![("value_size".to_string(), value_bytes.to_string())];
    let mut source = SourceInstance::start(
        &engine,
        &*load(artifacts::DATAGEN)?,
        name.clone(),
        limits,
        &none,
        &settings,
        None,
    )
    .map_err(err)?;
    let mut pass = TransformInstance::start(
        &engine,
        &*load(artifacts::TEST_PASSTHROUGH)?,
        name.clone(),
        limits,
        &none,
        &Vec::new(),
        None,
    )
    .map_err(err)?;
    let mut part = PartitionerInstance::start(
        &engine,
        &*load(artifacts::KEYHASH_PARTITIONER)?,
        name,
        limits,
        &none,
        &Vec::new(),
        None,
    )
    .map_err(err)?;
    let mut records = 0u64;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < seconds {
        let batch = match source.poll(BATCH, u64::MAX).map_err(err)? {
            PollResult::Records(p) => p.records,
            _ => bail!("datagen did not return records"),
        };
        let n = BatchReader::new(&batch)?.validate()?;
        let out = pass.process(&batch).map_err(err)?;
        ensure!(
            BatchReader::new(&out)?.validate()? == n,
            "passthrough lost records"
        );
        let chosen = part.partition("sweep", 6, &out).map_err(err)?;
        ensure!(chosen.len() == n as usize, "keyhash skipped records");
        records += u64::from(n);
    }
    let secs = t.elapsed().as_secs_f64();
    Ok(json!({
        "value_bytes": value_bytes,
        "batch": BATCH,
        "records": records,
        "seconds": secs,
        "records_per_s": records as f64 / secs,
        "mb_per_s": records as f64 * value_bytes as f64 / MIB / secs,
        "ns_per_record": secs * 1e9 / records as f64,
    }))
}

/// The docs' table: one row per point.
fn markdown_table(report: &Value) -> String {
    let mut t = String::from(
        "| values | linger.ms | records/s | MB/s | p50 / p99 (ms) unthrottled | p50 / p99 (ms) paced | producer (a) records/s | min-of-rates model | CPU model | peak in flight |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in report["points"].as_array().into_iter().flatten() {
        let u = &p["unthrottled"];
        let m = &p["model"];
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} / {} | {} / {} | {} | {} ({}×) | {} ({}×) | {} |",
            size_label(p["value_bytes"].as_u64().unwrap_or(0) as usize),
            p["linger_ms"],
            thousands(u["records_per_s"].as_f64().unwrap_or(0.0)),
            fmt_opt(&u["mb_per_s"], 1),
            fmt_opt(&u["latency_p50_ms"], 1),
            fmt_opt(&u["latency_p99_ms"], 1),
            fmt_opt(&p["paced"]["latency_p50_ms"], 1),
            fmt_opt(&p["paced"]["latency_p99_ms"], 1),
            thousands(p["producer"]["records_per_s"].as_f64().unwrap_or(0.0)),
            thousands(m["min_of_rates"].as_f64().unwrap_or(0.0)),
            fmt_opt(&m["measured_over_min"], 2),
            thousands(m["cpu_bound_rate"].as_f64().unwrap_or(0.0)),
            fmt_opt(&m["measured_over_cpu_bound"], 2),
            thousands(u["peak_in_flight_records"].as_f64().unwrap_or(0.0)),
        );
    }
    t
}

// ---------------------------------------------------------------------------
// The chart: throughput and p99 against linger.ms, one line per value size

/// Gridlines at 1, 2 and 5 times each power of ten within [lo, hi].
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * p;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                ticks.push(v);
            }
        }
        p *= 10.0;
    }
    ticks
}

fn short_number(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// One panel: x = linger.ms (evenly spaced categories), y on a log scale.
struct Panel {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    lo: f64,
    hi: f64,
}

impl Panel {
    fn px(&self, i: usize, n: usize) -> f64 {
        self.x + self.w * (i as f64 + 0.5) / n as f64
    }

    fn py(&self, v: f64) -> f64 {
        let f = (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln());
        self.y + self.h * (1.0 - f)
    }

    fn frame(&self, s: &mut String, title: &str, unit: &str, lingers: &[u64]) {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            self.x + self.w / 2.0,
            self.y - 12.0,
            xml_escape(title)
        );
        for t in log_ticks(self.lo, self.hi) {
            let y = self.py(t);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
                self.x,
                self.x + self.w,
                self.x - 6.0,
                y + 4.0,
                short_number(t)
            );
        }
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#333\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\" transform=\"rotate(-90 {:.1} {:.1})\">{}</text>",
            self.x,
            self.y,
            self.w,
            self.h,
            self.x - 52.0,
            self.y + self.h / 2.0,
            self.x - 52.0,
            self.y + self.h / 2.0,
            xml_escape(unit)
        );
        for (i, l) in lingers.iter().enumerate() {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{l}</text>",
                self.px(i, lingers.len()),
                self.y + self.h + 18.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">linger.ms</text>",
            self.x + self.w / 2.0,
            self.y + self.h + 36.0
        );
    }

    fn line(
        &self,
        s: &mut String,
        values: &[Option<f64>],
        color: &str,
        dashed: bool,
        labels: bool,
    ) {
        let n = values.len();
        let pts: Vec<(f64, f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.filter(|v| *v > 0.0)
                    .map(|v| (self.px(i, n), self.py(v), v))
            })
            .collect();
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{}/>",
            path.join(" "),
            if dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            }
        );
        for (x, y, v) in pts {
            let _ = writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{color}\"/>"
            );
            if labels {
                let text = if v >= 1e3 {
                    format!("{}k", thousands(v / 1e3))
                } else {
                    format!("{v:.0}")
                };
                let _ = writeln!(
                    s,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{color}\">{text}</text>",
                    y - 7.0
                );
            }
        }
    }
}

fn svg_chart(report: &Value) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 480.0;
    const COLORS: [&str; 3] = ["#4c72b0", "#55a868", "#c44e52"];
    let lingers: Vec<u64> = report["lingers_ms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let points: Vec<&Value> = report["points"].as_array().into_iter().flatten().collect();
    let mut sizes: Vec<u64> = points
        .iter()
        .filter_map(|p| p["value_bytes"].as_u64())
        .collect();
    sizes.dedup();
    let series = |size: u64, path: &[&str]| -> Vec<Option<f64>> {
        lingers
            .iter()
            .map(|l| {
                points
                    .iter()
                    .find(|p| {
                        p["value_bytes"].as_u64() == Some(size)
                            && p["linger_ms"].as_u64() == Some(*l)
                    })
                    .and_then(|p| path.iter().fold(*p, |v, k| &v[*k]).as_f64())
            })
            .collect()
    };
    let bounds = |paths: &[&[&str]]| {
        let all: Vec<f64> = sizes
            .iter()
            .flat_map(|s| paths.iter().flat_map(move |p| series(*s, p)))
            .flatten()
            .filter(|v| *v > 0.0)
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(0.0, f64::max);
        if all.is_empty() {
            (1.0, 10.0)
        } else {
            // Out to the next 1-2-5 step, so every point sits inside.
            let down = log_ticks(lo / 10.0, lo).last().copied().unwrap_or(lo);
            let up = log_ticks(hi, hi * 10.0).first().copied().unwrap_or(hi);
            (down.min(lo), up.max(hi * 1.15))
        }
    };
    let rate_path: &[&str] = &["unthrottled", "records_per_s"];
    let p99_paths: [&[&str]; 2] = [
        &["unthrottled", "latency_p99_ms"],
        &["paced", "latency_p99_ms"],
    ];
    let (rlo, rhi) = bounds(&[rate_path]);
    let (llo, lhi) = bounds(&p99_paths);
    // Room for the model's line too, which starts at one round trip.
    let rtt = report["round_trip"]["p50_ms"].as_f64().unwrap_or(0.0);
    let llo = log_ticks(rtt / 10.0, rtt)
        .last()
        .copied()
        .filter(|t| *t > 0.0)
        .map_or(llo, |t| llo.min(t));
    let left = Panel {
        x: 90.0,
        y: 90.0,
        w: 360.0,
        h: 300.0,
        lo: rlo,
        hi: rhi,
    };
    let right = Panel {
        x: 580.0,
        y: 90.0,
        w: 360.0,
        h: 300.0,
        lo: llo,
        hi: lhi,
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">streamplug datagen → passthrough → keyhash, one local broker: linger.ms × value size</text>\n\
         <text x=\"{}\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">{} cores shared with the broker · load average {} at start, {} at end · lz4, acks=all, idempotence, 6 partitions · log scales</text>\n",
        W / 2.0,
        W / 2.0,
        report["cpus"],
        fmt_opt(&report["loadavg_start"]["1m"], 2),
        fmt_opt(&report["loadavg_end"]["1m"], 2),
    );
    left.frame(
        &mut s,
        "Throughput, unthrottled (records/s)",
        "records/s",
        &lingers,
    );
    right.frame(&mut s, "p99 delivery latency (ms)", "ms", &lingers);
    // The model's light-load p99: a record waits at most linger.ms for its
    // batch, then one round trip.
    let model: Vec<Option<f64>> = lingers.iter().map(|l| Some(*l as f64 + rtt)).collect();
    right.line(&mut s, &model, "#999", true, false);
    for (i, size) in sizes.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        left.line(&mut s, &series(*size, rate_path), c, false, true);
        right.line(&mut s, &series(*size, p99_paths[0]), c, false, true);
        right.line(&mut s, &series(*size, p99_paths[1]), c, true, false);
    }
    for (i, size) in sizes.iter().enumerate() {
        let x = 90.0 + i as f64 * 150.0;
        let y = H - 24.0;
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"3\"/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{} values</text>",
            y - 4.0,
            x + 24.0,
            y - 4.0,
            COLORS[i % COLORS.len()],
            x + 30.0,
            size_label(*size as usize)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"530\" y1=\"{:.1}\" x2=\"554\" y2=\"{:.1}\" stroke=\"#333\" stroke-width=\"2\"/>\
         <text x=\"560\" y=\"{:.1}\">unthrottled</text>\
         <line x1=\"650\" y1=\"{:.1}\" x2=\"674\" y2=\"{:.1}\" stroke=\"#333\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\
         <text x=\"680\" y=\"{:.1}\">paced at {} records/s</text>\
         <line x1=\"870\" y1=\"{:.1}\" x2=\"894\" y2=\"{:.1}\" stroke=\"#999\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\
         <text x=\"900\" y=\"{:.1}\">linger + RTT</text>",
        H - 28.0,
        H - 28.0,
        H - 24.0,
        H - 28.0,
        H - 28.0,
        H - 24.0,
        thousands(report["paced_rate_records_per_s"].as_f64().unwrap_or(0.0)),
        H - 28.0,
        H - 28.0,
        H - 24.0,
    );
    s.push_str("</svg>\n");
    s
}
