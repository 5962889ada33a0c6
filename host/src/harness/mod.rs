//! `streamplug test`: runs one plugin locally, in the same sandbox and under
//! the same limits as `streamplug run`, without Kafka. A source's records, a
//! transform's output for records read from JSON lines, or a partitioner's
//! choices are printed as JSON lines (see [`jsonl`]), so a plugin author can
//! diff them against an expected file.
//!
//! Failures are worded as `run` words them (the same [`PluginError`]s and
//! batch checks), but end the test instead of restarting the plugin.

mod command;
pub mod jsonl;

pub use command::{Args, execute};

use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use streamplug_codec::{BatchReader, BatchWriter};
use wasmtime::Engine;

use crate::config::{Capabilities, PluginLimits};
use crate::engine::{self, EpochTicker};
use crate::pipeline::worker::{Budget, MEMORY_PER_BATCH_BYTE, check_batch};
use crate::plugin::bindings::{DeliveryReport, PollResult, Polled};
use crate::plugin::{
    self, CompileCache, LoadedPlugin, PartitionerInstance, PluginError, PluginLog, SourceInstance,
    TransformInstance, World,
};

/// What `streamplug test` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub plugin: PathBuf,
    /// The plugin's `config` table.
    pub config: Vec<(String, String)>,
    /// JSON lines for a transform or partitioner (`-` for stdin).
    pub input: Option<PathBuf>,
    /// Most records a source is asked for, or read from the input.
    pub count: Option<u64>,
    /// Records per call.
    pub batch: u32,
    /// The topic a partitioner is told, and its partition count.
    pub topic: String,
    pub partitions: u32,
    pub limits: PluginLimits,
    pub capabilities: Capabilities,
    /// Where the compiled plugin is cached (the default cache if `None`).
    pub cache_dir: Option<PathBuf>,
}

/// How long an idle source that gave no wait is left alone, as
/// `runtime.idle_backoff_ms`'s default.
const IDLE_BACKOFF_MS: u64 = 50;

/// Records a source makes when `--count` is not given.
pub const DEFAULT_SOURCE_COUNT: u64 = 10;

/// What a test run did: the one-line summary.
#[derive(Debug, Clone)]
pub struct Report {
    pub world: World,
    pub records_in: u64,
    pub records_out: u64,
    /// Records a partitioner placed out of range (refused, as `run` would).
    pub failed: u64,
    /// Time spent in calls into the plugin, checks of its output included.
    pub plugin_time: Duration,
    pub peak_memory: usize,
    pub memory_limit: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counted = match self.world {
            World::Source => self.records_out,
            _ => self.records_in,
        };
        let ns = self.plugin_time.as_nanos() / u128::from(counted.max(1));
        write!(f, "{}: ", self.world)?;
        if self.world != World::Source {
            write!(f, "{} records in, ", self.records_in)?;
        }
        write!(
            f,
            "{} records out, {} failed; {:.3} ms in the plugin, {ns} ns/record; peak memory {:.1} MiB of {:.1} MiB",
            self.records_out,
            self.failed,
            self.plugin_time.as_secs_f64() * 1e3,
            self.peak_memory as f64 / MIB,
            self.memory_limit as f64 / MIB,
        )
    }
}

const MIB: f64 = (1u64 << 20) as f64;

/// A plugin failed as `run` would log it; the test ends with this error.
fn failed(name: &str, e: PluginError) -> anyhow::Error {
    anyhow!("plugin `{name}` failed: {e}")
}

/// Runs the test, printing records to `out`. Records printed before a
/// failure stay printed.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<Report> {
    let engine = engine::build(false)?;
    // CPU deadlines are counted in epochs: without the ticker a runaway call
    // would never be interrupted.
    let _ticker = EpochTicker::start(&engine)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(
        &engine,
        opts.cache_dir
            .clone()
            .unwrap_or_else(CompileCache::default_dir),
    );
    let loaded = plugin::load(&engine, &linker, &cache, &opts.plugin)?;
    let name: Arc<str> = opts
        .plugin
        .file_stem()
        .map_or("plugin".into(), |s| s.to_string_lossy().into());
    let mut report = Report {
        world: loaded.world,
        records_in: 0,
        records_out: 0,
        failed: 0,
        plugin_time: Duration::ZERO,
        peak_memory: 0,
        memory_limit: opts.limits.memory.0,
    };
    let env = Env {
        engine: &engine,
        plugin: &loaded,
        name,
        opts,
    };
    match loaded.world {
        World::Source => env.source(out, &mut report)?,
        World::Transform => env.transform(out, &mut report)?,
        World::Partitioner => env.partitioner(out, &mut report)?,
    }
    out.flush().context("cannot write to stdout")?;
    Ok(report)
}

struct Env<'a> {
    engine: &'a Engine,
    plugin: &'a LoadedPlugin,
    name: Arc<str>,
    opts: &'a Options,
}

impl Env<'_> {
    fn log(&self) -> Arc<PluginLog> {
        Arc::new(PluginLog::new(&self.name, None))
    }

    /// Polls until `--count` records, or the source finishes. An idle
    /// source is polled again after the wait it asked for.
    fn source(&self, out: &mut dyn Write, report: &mut Report) -> Result<()> {
        let opts = self.opts;
        let mut source = SourceInstance::start(
            self.engine,
            self.plugin,
            self.log(),
            opts.limits,
            &opts.capabilities,
            &opts.config,
            None,
        )
        .map_err(|e| failed(&self.name, e))?;
        let want = opts.count.unwrap_or(DEFAULT_SOURCE_COUNT);
        let max_bytes = (opts.limits.memory.0 / MEMORY_PER_BATCH_BYTE).max(1);
        while report.records_out < want {
            let ask = u64::from(opts.batch).min(want - report.records_out);
            let started = Instant::now();
            let polled = source.poll(ask as u32, max_bytes);
            let budget = Budget {
                records: ask,
                bytes: source.takes_byte_budget().then_some(max_bytes),
            };
            match polled.map_err(|e| self.failed_poll(e))? {
                PollResult::Records(Polled {
                    records,
                    checkpoint,
                }) => {
                    let (n, _) = check_batch(&records, Some(budget)).map_err(|why| {
                        failed(
                            &self.name,
                            PluginError::Failed(format!("invalid output from poll-records: {why}")),
                        )
                    })?;
                    report.plugin_time += started.elapsed();
                    report.records_out += u64::from(n);
                    print_batch(out, &records)?;
                    // No Kafka here: every record is "acknowledged" at once,
                    // so a source that waits for its report gets it.
                    if checkpoint.is_some() {
                        let delivered = DeliveryReport {
                            committed: checkpoint,
                            failed: Vec::new(),
                        };
                        source
                            .on_delivery(&delivered)
                            .map_err(|e| failed(&self.name, e))?;
                    }
                }
                PollResult::Idle(ms) => {
                    report.plugin_time += started.elapsed();
                    out.flush().context("cannot write to stdout")?;
                    let wait = if ms == 0 {
                        IDLE_BACKOFF_MS
                    } else {
                        u64::from(ms)
                    };
                    std::thread::sleep(Duration::from_millis(wait));
                }
                PollResult::Finished => {
                    report.plugin_time += started.elapsed();
                    break;
                }
            }
        }
        report.peak_memory = source.peak_memory();
        Ok(())
    }

    fn failed_poll(&self, e: PluginError) -> anyhow::Error {
        match e {
            PluginError::Returned(msg) => {
                anyhow!("plugin `{}`: poll returned an error: {msg}", self.name)
            }
            e => failed(&self.name, e),
        }
    }

    /// Runs the input through the transform, `--batch` records per call.
    fn transform(&self, out: &mut dyn Write, report: &mut Report) -> Result<()> {
        let opts = self.opts;
        let input = open_input(opts)?;
        let mut transform = TransformInstance::start(
            self.engine,
            self.plugin,
            self.log(),
            opts.limits,
            &opts.capabilities,
            &opts.config,
            None,
        )
        .map_err(|e| failed(&self.name, e))?;
        for_each_batch(opts, input, |batch, n| {
            report.records_in += n as u64;
            let started = Instant::now();
            let output = transform.process(batch).map_err(|e| match e {
                PluginError::Returned(msg) => {
                    anyhow!("transform `{}` returned an error: {msg}", self.name)
                }
                e => failed(&self.name, e),
            })?;
            let (n, _) = check_batch(&output, None).map_err(|why| {
                failed(
                    &self.name,
                    PluginError::Failed(format!("invalid output from process: {why}")),
                )
            })?;
            report.plugin_time += started.elapsed();
            report.records_out += u64::from(n);
            print_batch(out, &output)
        })?;
        report.peak_memory = transform.peak_memory();
        Ok(())
    }

    /// Asks the partitioner to place the input records on `--topic` with
    /// `--partitions` partitions. A record that names its own partition
    /// keeps it, as in `run`.
    fn partitioner(&self, out: &mut dyn Write, report: &mut Report) -> Result<()> {
        let opts = self.opts;
        let input = open_input(opts)?;
        let mut partitioner = PartitionerInstance::start(
            self.engine,
            self.plugin,
            self.log(),
            opts.limits,
            &opts.capabilities,
            &opts.config,
            None,
        )
        .map_err(|e| failed(&self.name, e))?;
        let (topic, count) = (opts.topic.as_str(), opts.partitions);
        for_each_batch(opts, input, |batch, n| {
            report.records_in += n as u64;
            let started = Instant::now();
            let chosen = partitioner
                .partition(topic, count, batch)
                .map_err(|e| match e {
                    PluginError::Returned(msg) => {
                        anyhow!("partitioner `{}` returned an error: {msg}", self.name)
                    }
                    e => failed(&self.name, e),
                })?;
            if chosen.len() != n {
                return Err(failed(
                    &self.name,
                    PluginError::Failed(format!(
                        "invalid output from partition: {} partitions for {n} records",
                        chosen.len()
                    )),
                ));
            }
            report.plugin_time += started.elapsed();
            let reader = BatchReader::new(batch).map_err(|e| anyhow!("{e}"))?;
            for (record, p) in reader.zip(chosen) {
                let record = record.map_err(|e| anyhow!("{e}"))?;
                if record.partition.is_none() && p >= count {
                    report.failed += 1;
                    tracing::error!(
                        plugin = &*self.name,
                        "record failed: partitioner chose partition {p}, topic `{topic}` has {count}"
                    );
                    continue;
                }
                report.records_out += 1;
                let partition = record.partition.unwrap_or(p as i32);
                let line = jsonl::to_line(&record, Some(partition));
                writeln!(out, "{line}").context("cannot write to stdout")?;
            }
            Ok(())
        })?;
        report.peak_memory = partitioner.peak_memory();
        Ok(())
    }
}

/// Reads the input's JSON lines and hands them on in batches of `--batch`
/// records (and the batch's record count), up to `--count` records.
fn for_each_batch(
    opts: &Options,
    reader: Box<dyn BufRead>,
    mut f: impl FnMut(&Vec<u8>, usize) -> Result<()>,
) -> Result<()> {
    let input = opts.input.as_deref().unwrap_or(Path::new("-"));
    let limit = opts.count.unwrap_or(u64::MAX);
    let mut read = 0;
    let mut batch = BatchWriter::new();
    for (i, line) in reader.lines().enumerate() {
        if read >= limit {
            break;
        }
        let line = line.with_context(|| format!("cannot read {}", input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = jsonl::parse_line(&line)
            .with_context(|| format!("{} line {}", input.display(), i + 1))?;
        record.write_to(&mut batch);
        read += 1;
        if batch.len() >= opts.batch {
            let n = batch.len() as usize;
            f(&batch.take(), n)?;
        }
    }
    if !batch.is_empty() {
        let n = batch.len() as usize;
        f(&batch.finish(), n)?;
    }
    Ok(())
}

/// The `--input` of a transform or partitioner, which needs one.
fn open_input(opts: &Options) -> Result<Box<dyn BufRead>> {
    let Some(path) = &opts.input else {
        bail!(
            "a transform or partitioner needs records: give --input FILE.jsonl (or `-` for stdin)"
        );
    };
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the input {}", path.display()))?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

/// Prints each record of a (checked) batch as a JSON line.
fn print_batch(out: &mut dyn Write, batch: &[u8]) -> Result<()> {
    let reader = BatchReader::new(batch).map_err(|e| anyhow!("{e}"))?;
    for record in reader {
        let record = record.map_err(|e| anyhow!("{e}"))?;
        writeln!(out, "{}", jsonl::to_line(&record, None)).context("cannot write to stdout")?;
    }
    Ok(())
}
