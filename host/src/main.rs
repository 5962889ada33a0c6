//! The `streamplug` command: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// How log lines are written to stderr: `text` for people, `json` (one
    /// object a line, with `plugin`, `tenant` and `level` as fields) for log
    /// collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
        /// No status lines while running (on a terminal: one per source,
        /// refreshed every second; otherwise a log line per source every
        /// `--status-every` seconds).
        #[arg(long)]
        quiet: bool,
        /// Seconds between the plain status lines logged when stderr is
        /// not a terminal.
        #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        status_every: u64,
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
    /// The plugins of a running streamplug: state, counters and rates
    /// (through its `[admin]` server).
    Status {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Pause a source of a running streamplug: it stops at a batch boundary
    /// and its records in flight are delivered.
    Pause {
        /// The source's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Resume a paused source from where it stopped.
    Resume {
        /// The source's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Hosts sharing the sources of one config (`[cluster]`).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(clap::Args)]
struct AdminArgs {
    /// The admin server's URL (`[admin] listen`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9464")]
    admin: String,
    /// A file holding the admin token; default: the environment variable
    /// STREAMPLUG_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

impl AdminArgs {
    fn target(self) -> Result<streamplug::admin::client::Target> {
        let token = match &self.token_file {
            Some(f) => Some(secrets::Secret::from_file(f).map_err(anyhow::Error::msg)?),
            None => secrets::Secret::from_env("STREAMPLUG_ADMIN_TOKEN").ok(),
        };
        Ok(streamplug::admin::client::Target {
            url: self.admin,
            token: token.map(|t| t.expose().to_string()),
        })
    }
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

/// Standard error with known secrets scrubbed (as
/// [`secrets::RedactingStderr`]), each line written above the live status
/// lines while they are shown.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        streamplug::status::above_status(|| secrets::RedactingStderr.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_log(format: LogFormat) {
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREAMPLUG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Every line passes the secrets filter: librdkafka's debug log, for
        // one, can quote its configuration.
        .with_writer(|| LogWriter)
        .with_target(false);
    match format {
        LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // Fields at the top level beside `level` and `message`, where log
        // collectors look for them.
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_log(cli.log_format);
    let result = match cli.command {
        Command::Run {
            config,
            summary_json,
            pid_file,
            quiet,
            status_every,
        } => {
            let status = (!quiet).then(|| Duration::from_secs(status_every));
            run(&config, summary_json, pid_file, status)
        }
        Command::Reload { pid_file, pid } => reload(pid_file, pid),
        Command::Check { plugin } => check(&plugin),
        Command::Test(args) => streamplug::harness::execute(args),
        Command::New(args) => streamplug::scaffold::execute(args),
        Command::Cluster {
            command: ClusterCommand::Status { config, json },
        } => cluster_status(&config, json),
        Command::Status { admin } => admin
            .target()
            .and_then(|t| streamplug::admin::client::status(&t)),
        Command::Pause { name, admin } => admin
            .target()
            .and_then(|t| streamplug::admin::client::steer(&t, &name, "pause")),
        Command::Resume { name, admin } => admin
            .target()
            .and_then(|t| streamplug::admin::client::steer(&t, &name, "resume")),
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

fn run(
    path: &Path,
    summary_json: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    status: Option<Duration>,
) -> Result<()> {
    let config = Config::load(path)?;
    if let Some(f) = &pid_file {
        std::fs::write(f, std::process::id().to_string())
            .with_context(|| format!("cannot write the pid file {}", f.display()))?;
    }
    let summary = runtime::run_shown(&config, status);
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
