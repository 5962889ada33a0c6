//! Compiled components cached on disk, keyed by content hash, so a plugin is
//! compiled once per engine build and later loads take milliseconds.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: PathBuf,
    /// Changes whenever the engine's compiled-code format or settings do.
    engine_key: String,
}

/// Where a component came from: the cache or a fresh compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cached,
    Compiled,
}

impl CompileCache {
    pub fn new(engine: &Engine, dir: PathBuf) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The default cache folder: `$XDG_CACHE_HOME/streamplug` or `~/.cache/streamplug`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("streamplug")
            .join("components")
    }

    /// Loads `wasm` (whose sha256 is `hash`), compiling it only on a cache miss.
    pub fn load(&self, engine: &Engine, wasm: &[u8], hash: &str) -> Result<(Component, Origin)> {
        let path = self.dir.join(format!("{hash}-{}.cwasm", self.engine_key));
        if path.is_file() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same compatibility hash, and is never modified
            // in place (new artifacts are renamed over it atomically).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unreadable cached artifact: {e:#}")
                }
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!(
                "cannot cache compiled component at {}: {e:#}",
                path.display()
            );
        }
        // SAFETY: the bytes were just produced by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok((component, Origin::Compiled))
    }

    fn store(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        // A loaded artifact is mmapped: write a new file and rename it into
        // place rather than overwriting one that may be in use.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} into place", tmp.display()))
    }
}

/// Hex sha256 of a plugin file: the plugin's identity in logs and the cache.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
