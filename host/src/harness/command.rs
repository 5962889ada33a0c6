//! The `streamplug test` command line.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::{Options, run};
use crate::config::{ByteSize, Capabilities, PluginLimits};

/// Run a plugin locally, in its sandbox and limits, without Kafka: prints its
/// records as JSON lines on stdout and a one-line summary on stderr.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's `.wasm` component (source, transform or partitioner).
    pub plugin: PathBuf,
    /// A setting of the plugin's `config` table (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
    pub config: Vec<(String, String)>,
    /// Records for a transform or partitioner, one JSON object a line
    /// (`-` reads stdin). The format is the one printed.
    #[arg(long, value_name = "FILE.jsonl")]
    pub input: Option<PathBuf>,
    /// Most records to take from a source (default 10) or from the input (default all).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Records per call into the plugin.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// The topic a partitioner is asked about.
    #[arg(long, default_value = "test")]
    pub topic: String,
    /// The partition count a partitioner is told.
    #[arg(long, value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,
    /// The plugin's memory limit, as `limits.memory` (e.g. `64MiB`).
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub memory: ByteSize,
    /// CPU time one call may take, as `limits.call_timeout_ms`.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub call_timeout_ms: u64,
    /// A directory the plugin may read, as `capabilities.read_dirs` (repeatable).
    #[arg(long = "read-dir", value_name = "DIR")]
    pub read_dirs: Vec<PathBuf>,
    /// An environment variable the plugin may read, as `capabilities.env` (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// Runs `streamplug test`: records to stdout, the summary to stderr. Fails
/// (non-zero exit) on any plugin failure or refused record.
pub fn execute(args: Args) -> Result<()> {
    let opts = Options {
        plugin: args.plugin,
        config: args.config,
        input: args.input,
        count: args.count,
        batch: args.batch,
        topic: args.topic,
        partitions: args.partitions,
        limits: PluginLimits {
            memory: args.memory,
            call_timeout_ms: args.call_timeout_ms,
            ..PluginLimits::default()
        },
        capabilities: Capabilities {
            read_dirs: args.read_dirs,
            env: args.env,
        },
        cache_dir: None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let report = run(&opts, &mut out)?;
    eprintln!("{report}");
    if report.failed > 0 {
        bail!("{} records were refused (see above)", report.failed);
    }
    Ok(())
}
