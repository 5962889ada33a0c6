//! Where checkpoints are committed: periodically, for each source whose
//! acknowledged checkpoint moved, and once more at shutdown or when a
//! source's pipeline is drained.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::{CheckpointStore, CheckpointTracker};
use crate::pipeline::Stop;

pub struct Committer {
    shared: Arc<Inner>,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

struct Inner {
    store: Box<dyn CheckpointStore>,
    sources: Mutex<HashMap<String, Arc<CheckpointTracker>>>,
    /// Every source's commits so far (kept after its pipeline is drained).
    commits: Mutex<HashMap<String, Commits>>,
}

/// A source's checkpoint commits, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commits {
    /// Checkpoints written to the store.
    pub count: u64,
    /// When the last one was.
    pub last: SystemTime,
}

impl Inner {
    fn commit(&self, name: &str) {
        let tracker = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        let Some((checkpoint, version)) = tracker.as_ref().and_then(|t| t.uncommitted()) else {
            return;
        };
        match self.store.commit(name, &checkpoint) {
            Ok(()) => {
                if let Some(t) = tracker {
                    t.set_committed(checkpoint, version);
                }
                let mut commits = self.commits.lock().unwrap_or_else(|e| e.into_inner());
                let c = commits.entry(name.to_string()).or_insert(Commits {
                    count: 0,
                    last: SystemTime::now(),
                });
                c.count += 1;
                c.last = SystemTime::now();
            }
            // Retried at the next interval; the source resumes from an
            // older checkpoint if it never succeeds (duplicates, no loss).
            Err(e) => tracing::warn!(
                plugin = name,
                "cannot commit a checkpoint to the {}: {e:#}",
                self.store.describe()
            ),
        }
    }

    fn commit_all(&self) {
        let names: Vec<String> = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for n in names {
            self.commit(&n);
        }
    }
}

impl Committer {
    pub fn start(store: Box<dyn CheckpointStore>, interval: Duration) -> anyhow::Result<Self> {
        let shared = Arc::new(Inner {
            store,
            sources: Mutex::new(HashMap::new()),
            commits: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(Stop::default());
        let (s, st) = (shared.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("checkpoints".into())
            .spawn(move || {
                while !st.sleep(interval) {
                    s.commit_all();
                }
            })?;
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn register(&self, source: &str, tracker: Arc<CheckpointTracker>) {
        tracker.set_durable();
        self.shared
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.to_string(), tracker);
    }

    /// Every source's committed checkpoint, read from the store now.
    pub fn load_all(&self) -> anyhow::Result<HashMap<String, Vec<u8>>> {
        self.shared.store.load_all()
    }

    /// Every source's checkpoint commits so far.
    pub fn commits(&self) -> HashMap<String, Commits> {
        self.shared
            .commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        self.shared.store.describe()
    }

    /// Commits `source` now and forgets it (its pipeline was drained).
    pub fn finish(&self, source: &str) {
        self.shared.commit(source);
        self.shared
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(source);
    }

    /// The final commit of every source, after the last flush.
    pub fn stop(mut self) {
        self.stop.raise();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.commit_all();
    }
}
