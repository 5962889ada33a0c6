//! Where plugins are loaded: read a `.wasm`, compile it (or load it from the
//! cache), find which world it implements and link it against the host, so
//! that instances can later be made from a ready template.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::Engine;
use wasmtime::component::Linker;

use super::bindings::{Contract, PartitionerPre, SourcePre, TransformPre, v0_1, v0_2};
use super::cache::{CompileCache, Origin, content_hash};
use super::host::HostState;

/// The three kinds of plugin, one per WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    Source,
    Transform,
    Partitioner,
}

impl World {
    /// The export that identifies the world.
    fn marker_export(self) -> &'static str {
        match self {
            World::Source => "poll-records",
            World::Transform => "process",
            World::Partitioner => "partition",
        }
    }

    const ALL: [World; 3] = [World::Source, World::Transform, World::Partitioner];
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Source => "source",
            World::Transform => "transform",
            World::Partitioner => "partitioner",
        })
    }
}

/// A template to instantiate a plugin from, type-checked against its world.
#[derive(Clone)]
pub(crate) enum Template {
    Source(SourcePre),
    Transform(TransformPre),
    Partitioner(PartitionerPre),
}

impl Template {
    fn contract(&self) -> Contract {
        match self {
            Template::Source(p) => p.contract(),
            Template::Transform(p) => p.contract(),
            Template::Partitioner(p) => p.contract(),
        }
    }
}

/// A plugin file, compiled, checked and linked: ready to instantiate.
pub struct LoadedPlugin {
    pub path: std::path::PathBuf,
    /// sha256 of the file's bytes.
    pub hash: String,
    pub world: World,
    pub origin: Origin,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub(crate) template: Template,
}

impl LoadedPlugin {
    /// The contract version the plugin was built against.
    pub fn contract(&self) -> Contract {
        self.template.contract()
    }
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("world", &self.world)
            .finish()
    }
}

/// The linker every plugin is checked and instantiated against.
pub fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    // All of WASI is linked so that standard-library guests instantiate; the
    // context denies everything but clocks and random (see host.rs).
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| anyhow!("cannot link WASI: {e:#}"))?;
    // Blocking waits end at the call's deadline, or when let go.
    super::waits::shadow_blocking_waits(&mut linker)?;
    // Every version's imports: a plugin built against any of them links.
    type Me = wasmtime::component::HasSelf<HostState>;
    let link = |what: &str, e: wasmtime::Error| anyhow!("cannot link {what}: {e:#}");
    v0_1::log::add_to_linker::<_, Me>(&mut linker, |s| s).map_err(|e| link("log@0.1.0", e))?;
    v0_2::log::add_to_linker::<_, Me>(&mut linker, |s| s).map_err(|e| link("log@0.2.0", e))?;
    v0_2::schema_registry::add_to_linker::<_, Me>(&mut linker, |s| s)
        .map_err(|e| link("schema-registry@0.2.0", e))?;
    Ok(linker)
}

/// Loads the plugins a config names, checking each against the world its
/// table says it implements: at startup and on every reload.
pub struct Loader {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
    /// Plugins loaded and still in use, by content hash: many plugins of one
    /// file share one compiled component (loading it again maps its code
    /// again, ~400 KiB of RSS per plugin).
    loaded: Mutex<HashMap<String, Weak<LoadedPlugin>>>,
}

impl Loader {
    pub fn new(engine: &Engine, cache_dir: Option<std::path::PathBuf>) -> Result<Self> {
        Ok(Self {
            engine: engine.clone(),
            linker: linker(engine)?,
            cache: CompileCache::new(engine, cache_dir.unwrap_or_else(CompileCache::default_dir)),
            loaded: Mutex::default(),
        })
    }

    /// The plugin at `path`, whose content hashes to `hash`, if the same
    /// content is loaded already.
    fn shared(&self, path: &Path, hash: &str) -> Option<Arc<LoadedPlugin>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.retain(|_, p| p.strong_count() > 0);
        let same = loaded.get(hash)?.upgrade()?;
        if same.path == path {
            return Some(same);
        }
        Some(Arc::new(LoadedPlugin {
            path: path.to_path_buf(),
            hash: same.hash.clone(),
            world: same.world,
            origin: Origin::Cached,
            imports: same.imports.clone(),
            exports: same.exports.clone(),
            template: same.template.clone(),
        }))
    }

    /// Loads plugin `name` from `path`, which must implement `world`.
    pub fn load_as(&self, name: &str, path: &Path, world: World) -> Result<Arc<LoadedPlugin>> {
        let started = std::time::Instant::now();
        let bytes = read_plugin(path).with_context(|| format!("plugin `{name}`"))?;
        let hash = content_hash(&bytes);
        let loaded = match self.shared(path, &hash) {
            Some(p) => p,
            None => {
                let p = load_bytes(&self.engine, &self.linker, &self.cache, path, &bytes, hash)
                    .with_context(|| format!("plugin `{name}`"))?;
                self.loaded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(p.hash.clone(), Arc::downgrade(&p));
                p
            }
        };
        if loaded.world != world {
            bail!(
                "plugin `{name}`: {} implements the {} world but is configured as a [[{world}]]",
                path.display(),
                loaded.world
            );
        }
        let how = match loaded.origin {
            Origin::Cached => "from cache",
            Origin::Compiled => "compiled",
        };
        tracing::info!(
            plugin = name,
            world = %loaded.world,
            contract = %loaded.contract(),
            sha256 = &loaded.hash[..12],
            "loaded {} ({how} in {} ms)",
            path.display(),
            started.elapsed().as_millis()
        );
        Ok(loaded)
    }
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Loads a plugin file; the error says exactly why it is not a valid plugin.
pub fn load(
    engine: &Engine,
    linker: &Linker<HostState>,
    cache: &CompileCache,
    path: &Path,
) -> Result<Arc<LoadedPlugin>> {
    let bytes = read_plugin(path)?;
    let hash = content_hash(&bytes);
    load_bytes(engine, linker, cache, path, &bytes, hash)
}

fn read_plugin(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read plugin file {}", path.display()))
}

/// `hash` is the content hash of `bytes`.
fn load_bytes(
    engine: &Engine,
    linker: &Linker<HostState>,
    cache: &CompileCache,
    path: &Path,
    bytes: &[u8],
    hash: String,
) -> Result<Arc<LoadedPlugin>> {
    check_and_link(engine, linker, cache, path, bytes, hash)
        .with_context(|| format!("{} is not a valid streamplug plugin", path.display()))
}

fn check_and_link(
    engine: &Engine,
    linker: &Linker<HostState>,
    cache: &CompileCache,
    path: &Path,
    bytes: &[u8],
    hash: String,
) -> Result<Arc<LoadedPlugin>> {
    match bytes.get(..8) {
        Some(h) if &h[..4] == WASM_MAGIC && h[4..] == [1, 0, 0, 0] => bail!(
            "it is a core WebAssembly module, not a component: build it with `--target wasm32-wasip2` \
             (or wrap it with `wasm-tools component new`)"
        ),
        Some(h) if &h[..4] == WASM_MAGIC => {}
        _ => bail!("it is not WebAssembly (no `\\0asm` header)"),
    }
    let (component, origin) = cache
        .load(engine, bytes, &hash)
        .context("it does not compile")?;
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let export_names: Vec<&str> = ty.exports(engine).map(|(n, _)| n).collect();
    let worlds: Vec<World> = World::ALL
        .into_iter()
        .filter(|w| export_names.contains(&w.marker_export()))
        .collect();
    let world = match worlds.as_slice() {
        [w] => *w,
        [] => bail!(
            "it exports none of `poll-records` (source), `process` (transform) or `partition` (partitioner); \
             its exports are: {}",
            list_or_none(&export_names)
        ),
        many => bail!(
            "it exports the functions of several worlds ({many:?}); a plugin implements exactly one"
        ),
    };
    let contract = Contract::ALL
        .into_iter()
        .find(|c| export_names.contains(&c.setup_export()))
        .ok_or_else(|| {
            anyhow!(
                "it exports neither `setup` (streamplug:plugin@0.2.0) nor `init` (0.1.0); its exports are: {}",
                list_or_none(&export_names)
            )
        })?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        anyhow!("it imports something streamplug does not provide: {e:#} (plugins may import `streamplug:plugin/log`, `streamplug:plugin/schema-registry` and WASI only)")
    })?;
    let typed = |e: wasmtime::Error| {
        anyhow!("its exports do not match the `{world}` world of {contract}: {e:#}")
    };
    let template = match world {
        World::Source => Template::Source(SourcePre::new(pre, contract).map_err(typed)?),
        World::Transform => Template::Transform(TransformPre::new(pre, contract).map_err(typed)?),
        World::Partitioner => {
            Template::Partitioner(PartitionerPre::new(pre, contract).map_err(typed)?)
        }
    };
    Ok(Arc::new(LoadedPlugin {
        path: path.to_path_buf(),
        hash,
        world,
        origin,
        imports,
        exports,
        template,
    }))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}
