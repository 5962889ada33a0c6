//! Hot reload: where changed plugin files and config are noticed, checked
//! off the hot path, and handed to the supervisor, which applies them to the
//! running pipelines.
//!
//! A reload is asked for by a file event (`watch`), SIGHUP, or a caller
//! through [`Controls`]. The reloader then:
//! 1. re-reads the config; if it changed, plans the least work that applies
//!    it (`config::diff`), loads what it needs, and refuses the whole change,
//!    with the reason, if anything in it is invalid;
//! 2. hashes every plugin file; a file whose content changed is compiled
//!    and checked here, then queued to the pipelines that run it, which
//!    switch over between two batches (`pipeline::swap`, `Stage::swap`).

pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::config::{Config, diff};
use crate::pipeline::Stop;
use crate::pipeline::stage::short;
use crate::plugin::{Loader, World, content_hash};
use crate::supervisor::{Plugins, Supervisor};
use watch::FileWatch;

/// How long file events must be quiet before the files are read: a build
/// or a copy that writes in pieces is read once, when it is done.
const SETTLE: Duration = Duration::from_millis(50);

/// Asks a running host to reload.
#[derive(Default)]
pub struct Controls {
    /// The first and the latest request not yet served.
    requests: Mutex<Option<(Instant, Instant)>>,
    cv: Condvar,
}

impl Controls {
    /// Re-read the config and every plugin file, and apply what changed.
    pub fn request_reload(&self) {
        let now = Instant::now();
        let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *r = Some((r.map_or(now, |(first, _)| first), now));
        self.cv.notify_all();
    }

    /// Waits up to `limit` for a request, then until requests have been
    /// quiet for `SETTLE`. Returns when the last one came.
    pub(crate) fn wait_for_reload(&self, stop: &Stop, limit: Duration) -> Option<Instant> {
        let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            r = self
                .cv
                .wait_timeout(r, limit)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        loop {
            let (_, last) = (*r)?;
            if stop.is_raised() {
                return None;
            }
            let quiet = last.elapsed();
            if quiet >= SETTLE {
                *r = None;
                return Some(last);
            }
            r = self
                .cv
                .wait_timeout(r, SETTLE - quiet)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Reloads on SIGHUP, for as long as the runtime lives.
pub async fn reload_on_sighup(controls: Arc<Controls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading");
                    controls.request_reload();
                }
            }
            Err(e) => tracing::warn!("cannot watch SIGHUP: {e}"),
        }
    }
}

pub struct Reloader {
    config: Config,
    /// The version of each plugin (by name) that new pipelines start with.
    plugins: Plugins,
    /// The last content seen of each plugin file, loaded or refused, so a
    /// refused file is reported once, not at every reload.
    seen: HashMap<PathBuf, String>,
    loader: Loader,
    watch: Option<FileWatch>,
}

impl Reloader {
    pub fn new(
        config: &Config,
        plugins: Plugins,
        loader: Loader,
        controls: &Arc<Controls>,
    ) -> Result<Self> {
        let seen = plugins
            .values()
            .map(|p| (p.path.clone(), p.hash.clone()))
            .collect();
        let watch = if config.runtime.watch {
            Some(FileWatch::start(controls.clone())?)
        } else {
            None
        };
        let mut reloader = Self {
            config: config.clone(),
            plugins,
            seen,
            loader,
            watch,
        };
        reloader.rewatch();
        Ok(reloader)
    }

    fn rewatch(&mut self) {
        let files: Vec<PathBuf> = std::iter::once(self.config.path.clone())
            .chain(
                self.config
                    .plugin_files()
                    .into_iter()
                    .map(|(_, path, _)| path),
            )
            .collect();
        if let Some(w) = &mut self.watch {
            w.watch(files);
        }
    }

    /// Applies what changed since the last reload; `requested` is when the
    /// change was seen.
    pub fn reload(&mut self, supervisor: &Supervisor, requested: Instant) {
        match Config::load(&self.config.path) {
            Ok(new) if new.raw != self.config.raw => match self.apply_config(new, supervisor) {
                Ok(summary) => tracing::info!("config reloaded: {summary}"),
                Err(e) => refuse_config(supervisor, &e),
            },
            Ok(_) => {}
            Err(e) => refuse_config(supervisor, &e),
        }
        self.swap_changed_files(supervisor, requested);
    }

    fn apply_config(&mut self, new: Config, supervisor: &Supervisor) -> Result<String> {
        let plan = diff::plan(&self.config, &new).map_err(anyhow::Error::msg)?;
        // Load every plugin the new config names whose file is not the one
        // loaded: all must be valid before anything changes.
        let mut plugins = HashMap::new();
        for (name, path, world) in new.plugin_files() {
            let current = self
                .plugins
                .get(&name)
                .filter(|p| p.path == path && p.world == world);
            let p = match current {
                Some(p) => p.clone(),
                None => self.loader.load_as(&name, &path, world)?,
            };
            plugins.insert(name, p);
        }
        supervisor.apply_config(new.clone(), plugins.clone(), &plan)?;
        for p in plugins.values() {
            self.seen.insert(p.path.clone(), p.hash.clone());
        }
        self.plugins = plugins;
        self.config = new;
        self.rewatch();
        Ok(format!(
            "{} added, {} removed, {} restarted, {} plugin(s) re-set, {} quota(s) changed",
            plan.add.len(),
            plan.remove.len(),
            plan.restart.len(),
            plan.respec.len(),
            plan.source_quotas.len() + plan.tenant_quotas.len()
        ))
    }

    /// Swaps every plugin whose file content changed.
    fn swap_changed_files(&mut self, supervisor: &Supervisor, requested: Instant) {
        let mut by_path: BTreeMap<PathBuf, Vec<(String, World)>> = BTreeMap::new();
        for (name, path, world) in self.config.plugin_files() {
            by_path.entry(path).or_default().push((name, world));
        }
        for (path, users) in by_path {
            // Unreadable for now (mid-rename): the next event looks again.
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let hash = content_hash(&bytes);
            if self.seen.get(&path) == Some(&hash) {
                continue;
            }
            self.seen.insert(path.clone(), hash.clone());
            for (name, world) in users {
                match self.loader.load_as(&name, &path, world) {
                    Ok(p) => {
                        tracing::info!(
                            plugin = name.as_str(),
                            sha256 = short(&p.hash),
                            "new version of {} compiled and checked; swapping at the next batch",
                            path.display()
                        );
                        self.plugins.insert(name.clone(), p.clone());
                        supervisor.swap_plugin(&name, p, requested);
                    }
                    Err(e) => {
                        let cause = format!("{e:#}");
                        tracing::error!(
                            plugin = name.as_str(),
                            sha256 = short(&hash),
                            "swap refused, the running version stays live: {cause}"
                        );
                        supervisor.refuse_swap(&name, world, &hash, &cause);
                    }
                }
            }
        }
    }
}

fn refuse_config(supervisor: &Supervisor, e: &anyhow::Error) {
    tracing::error!("config reload refused, nothing changed: {e:#}");
    supervisor.refuse_config(&format!("{e:#}"));
}
