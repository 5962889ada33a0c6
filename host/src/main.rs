//! The `streamplug` command: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use streamplug::plugin::{self, CompileCache};
use streamplug::{Config, engine, runtime, secrets};

/// mimalloc serves every allocation of the process: Rust's, and through its
/// `override` feature librdkafka's C `malloc`/`free` too. Each record is
/// allocated by librdkafka on a pipeline thread and freed on its broker and
/// delivery threads, where glibc's malloc took about 30% of all CPU
/// (docs/performance.md has the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "streamplug",
    version,
    about = "Run WebAssembly plugins that produce to Kafka"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the plugins of a config file until the sources finish or Ctrl-C/SIGTERM.
    Run {
        /// The TOML config file.
        config: PathBuf,
        /// Also write the per-plugin counters as JSON to this file at exit.
        #[arg(long, value_name = "PATH")]
        summary_json: Option<PathBuf>,
        /// Write the process id here while running (for `streamplug reload`).
        #[arg(long, value_name = "PATH")]
        pid_file: Option<PathBuf>,
    },
    /// Ask a running streamplug to reload its config and plugin files now
    /// (the same as SIGHUP; file changes are also picked up by themselves).
    Reload {
        /// The `--pid-file` of the running `streamplug run`.
        #[arg(long, value_name = "PATH", conflicts_with = "pid")]
        pid_file: Option<PathBuf>,
        /// The process id of the running `streamplug run`.
        #[arg(required_unless_present = "pid_file")]
        pid: Option<u32>,
    },
    /// Check a plugin: which world it implements, or exactly why it is not valid.
    Check {
        /// The plugin's `.wasm` component.
        plugin: PathBuf,
    },
    Test(streamplug::harness::Args),
    New(streamplug::scaffold::Args),
    /// Print the versions of streamplug, its plugin contract, wasmtime and
    /// librdkafka, and librdkafka's built-in features.
    Version,
    /// Hosts sharing the sources of one config (`[cluster]`).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// The group's live hosts, the config each runs and the sources each runs.
    Status {
        /// The config file (its `[cluster]` and `[kafka]` tables).
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREAMPLUG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Every line passes the secrets filter: librdkafka's debug log, for
        // one, can quote its configuration.
        .with_writer(|| secrets::RedactingStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            summary_json,
            pid_file,
        } => run(&config, summary_json, pid_file),
        Command::Reload { pid_file, pid } => reload(pid_file, pid),
        Command::Check { plugin } => check(&plugin),
        Command::Test(args) => streamplug::harness::execute(args),
        Command::New(args) => streamplug::scaffold::execute(args),
        Command::Cluster {
            command: ClusterCommand::Status { config, json },
        } => cluster_status(&config, json),
        Command::Version => {
            version();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Stopped by Ctrl-C/SIGTERM before anything ran: the shell's code
        // for a command ended by SIGINT.
        Err(e) if e.is::<runtime::Interrupted>() => {
            eprintln!("streamplug: {}", secrets::scrub(&format!("{e:#}")));
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {}", secrets::scrub(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path, summary_json: Option<PathBuf>, pid_file: Option<PathBuf>) -> Result<()> {
    let config = Config::load(path)?;
    if let Some(f) = &pid_file {
        std::fs::write(f, std::process::id().to_string())
            .with_context(|| format!("cannot write the pid file {}", f.display()))?;
    }
    let summary = runtime::run(&config);
    if let Some(f) = &pid_file {
        let _ = std::fs::remove_file(f);
    }
    let summary = summary?;
    // Failure causes come from librdkafka and plugins: scrubbed like the log.
    print!("{}", secrets::scrub(&summary.render()));
    if let Some(out) = summary_json {
        let json = serde_json::to_string_pretty(&summary).context("cannot encode the summary")?;
        std::fs::write(&out, secrets::scrub(&json).as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

fn reload(pid_file: Option<PathBuf>, pid: Option<u32>) -> Result<()> {
    let pid = match (pid, pid_file) {
        (Some(pid), _) => pid,
        (None, Some(f)) => std::fs::read_to_string(&f)
            .with_context(|| format!("cannot read the pid file {}", f.display()))?
            .trim()
            .parse()
            .with_context(|| format!("{} does not hold a process id", f.display()))?,
        (None, None) => anyhow::bail!("give the pid or --pid-file of the running streamplug"),
    };
    let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
    // SAFETY: kill(2) with a valid signal number has no memory effects.
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        let e = std::io::Error::last_os_error();
        anyhow::bail!("cannot signal process {pid}: {e}");
    }
    println!("asked streamplug (pid {pid}) to reload");
    Ok(())
}

fn cluster_status(path: &Path, json: bool) -> Result<()> {
    let config = Config::load(path)?;
    let status = streamplug::cluster::status::read(&config)?;
    if json {
        let text = serde_json::to_string_pretty(&status).context("cannot encode the status")?;
        println!("{text}");
    } else {
        print!("{}", status.render());
    }
    Ok(())
}

fn version() {
    let v = streamplug::version::Versions::current();
    println!("streamplug {}", v.streamplug);
    println!("  plugin contract (WIT)  {}", v.wit);
    println!("  wasmtime               {}", v.wasmtime);
    println!("  librdkafka             {}", v.librdkafka);
    println!("  librdkafka features    {}", v.librdkafka_features);
}

fn check(path: &Path) -> Result<()> {
    let engine = engine::build(false)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, CompileCache::default_dir());
    let p = plugin::load(&engine, &linker, &cache, path)?;
    println!("{}: a valid streamplug {} plugin", path.display(), p.world);
    println!("  contract {}", p.contract());
    println!("  sha256   {}", p.hash);
    println!("  exports  {}", p.exports.join(", "));
    println!("  imports  {}", p.imports.join(", "));
    Ok(())
}
