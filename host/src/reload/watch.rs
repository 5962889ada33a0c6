//! Where plugin files and the config file are watched. Any event that names
//! one of them asks for a reload; the reloader waits for the events to
//! settle and then compares contents, so in-place writes, write-then-rename
//! and builds that write in pieces all end in one look at the final bytes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::Controls;

pub struct FileWatch {
    watcher: RecommendedWatcher,
    files: Arc<Mutex<HashSet<PathBuf>>>,
    dirs: HashSet<PathBuf>,
}

impl FileWatch {
    pub fn start(controls: Arc<Controls>) -> Result<Self> {
        let files: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let watched = files.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if event.kind.is_access() {
                return;
            }
            let files = watched.lock().unwrap_or_else(|e| e.into_inner());
            if event.paths.iter().any(|p| files.contains(p)) {
                controls.request_reload();
            }
        })
        .context("cannot start watching files")?;
        Ok(Self {
            watcher,
            files,
            dirs: HashSet::new(),
        })
    }

    /// Watches exactly `files` from now on. Their directories are watched,
    /// not the files, so that a file replaced by a rename is still seen.
    pub fn watch(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        let files: HashSet<PathBuf> = files.into_iter().map(|f| absolute(&f)).collect();
        let dirs: HashSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {e}; SIGHUP still reloads", new.display());
            }
        }
        self.dirs = dirs;
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = files;
    }
}

/// The path events will name: the directory resolved (symlinks, `..`),
/// the file name kept.
pub fn absolute(p: &Path) -> PathBuf {
    match (p.parent().map(std::fs::canonicalize), p.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()),
    }
}
