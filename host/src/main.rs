//! The `streamplug` command: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use streamplug::plugin::{self, CompileCache};
use streamplug::{Config, engine, runtime};

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
    },
    /// Check a plugin: which world it implements, or exactly why it is not valid.
    Check {
        /// The plugin's `.wasm` component.
        plugin: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREAMPLUG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            summary_json,
        } => run(&config, summary_json),
        Command::Check { plugin } => check(&plugin),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path, summary_json: Option<PathBuf>) -> Result<()> {
    let config = Config::load(path)?;
    let summary = runtime::run(&config)?;
    print!("{}", summary.render());
    if let Some(out) = summary_json {
        let json = serde_json::to_string_pretty(&summary).context("cannot encode the summary")?;
        std::fs::write(&out, json).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

fn check(path: &Path) -> Result<()> {
    let engine = engine::build(false)?;
    let linker = plugin::linker(&engine)?;
    let cache = CompileCache::new(&engine, CompileCache::default_dir());
    let p = plugin::load(&engine, &linker, &cache, path)?;
    println!("{}: a valid streamplug {} plugin", path.display(), p.world);
    println!("  sha256   {}", p.hash);
    println!("  exports  {}", p.exports.join(", "));
    println!("  imports  {}", p.imports.join(", "));
    Ok(())
}
