//! `streamplug-guest-tools componentize`: makes a core module built for
//! `wasm32-wasip1` (a C or Go plugin) a component of one world of
//! `wit/plugin.wit`, as `wasm-tools component embed` followed by
//! `wasm-tools component new --adapt` would, with the WASI preview1 reactor
//! adapter of the wasmtime release the host uses. Built with the workspace,
//! it spares plugin authors `cargo install wasm-tools` (4-5 minutes).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Builds streamplug plugins written in C or Go")]
enum Cmd {
    /// Makes a `wasm32-wasip1` reactor module a component of a world.
    Componentize {
        /// The folder of the contract (`wit/` of a streamplug checkout).
        #[arg(long)]
        wit: PathBuf,
        /// source, transform or partitioner.
        #[arg(long)]
        world: String,
        /// The module's `cabi_realloc` works only once its runtime has
        /// started (Go): the adapter then takes its memory with `memory.grow`.
        #[arg(long)]
        realloc_via_memory_grow: bool,
        /// The core module.
        input: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cmd::parse() {
        Cmd::Componentize {
            wit,
            world,
            realloc_via_memory_grow,
            input,
            output,
        } => componentize(&wit, &world, realloc_via_memory_grow, &input, &output),
    }
}

fn componentize(
    wit: &Path,
    world: &str,
    realloc_via_memory_grow: bool,
    input: &Path,
    output: &Path,
) -> Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(wit)
        .with_context(|| format!("cannot read the WIT in {}", wit.display()))?;
    let world_id = resolve
        .select_world(&[package], Some(world))
        .with_context(|| format!("no world `{world}` in {}", wit.display()))?;
    let mut module =
        std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    if !module.starts_with(b"\0asm\x01\0\0\0") {
        bail!("{} is not a core WebAssembly module", input.display());
    }
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world_id,
        wit_component::StringEncoding::UTF8,
    )
    .context("embedding the world")?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .context("reading the core module")?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("adding the WASI preview1 reactor adapter")?
        .realloc_via_memory_grow(realloc_via_memory_grow)
        .validate(true)
        .encode()
        .with_context(|| format!("making {} a component of `{world}`", input.display()))?;
    // Written beside and renamed: a host may be loading the old file.
    let tmp = output.with_extension("wasm.tmp");
    std::fs::write(&tmp, &component).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, output)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), output.display()))?;
    Ok(())
}
