//! Where a starting source resumes from, and where a stopping one leaves
//! its position: the checkpoint store behind its committer, and the
//! transactional producers of exactly-once sources, whose registration
//! must come first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::checkpoint::{self, CheckpointTracker, Committer};
use crate::config::{CheckpointConfig, Config, Corrupt, Delivery, StoreKind};
use crate::producer::settings::ClientSettings;
use crate::producer::topics::Topics;
use crate::producer::{SharedProducer, TransactionalProducers};

pub struct Resume {
    committer: Committer,
    /// The producers of exactly-once sources (a store in Kafka only).
    transactional: Option<TransactionalProducers>,
    corrupt: Corrupt,
}

impl Resume {
    /// Opens the store `c` names and starts committing to it.
    pub fn open(
        c: &CheckpointConfig,
        client: &ClientSettings,
        message_timeout_ms: u64,
        topics: &Topics,
    ) -> Result<Self> {
        let store = checkpoint::open_store(c, client, topics)?;
        let transactional = (c.store == StoreKind::Kafka)
            .then(|| TransactionalProducers::new(client, &c.topic, message_timeout_ms));
        let interval = Duration::from_millis(c.interval_ms.max(1));
        Ok(Self {
            committer: Committer::start(store, interval)?,
            transactional,
            corrupt: c.corrupt,
        })
    }

    /// The committed checkpoints of the sources `names` of `config`.
    ///
    /// Each exactly-once source's producer is registered first: that fences
    /// a crashed (or still running) instance and aborts the transaction it
    /// left open, and an open transaction hides every checkpoint written
    /// after it began, other sources' included.
    pub fn committed(&self, config: &Config, names: &[&str]) -> Result<HashMap<String, Vec<u8>>> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        for name in names {
            let exactly_once = config
                .source(name)
                .is_some_and(|s| *s.delivery.get_ref() == Delivery::ExactlyOnce);
            if exactly_once {
                self.producer(name)?;
            }
        }
        let describe = self.committer.describe();
        let all = match (self.committer.load_all(), self.corrupt) {
            (Ok(all), _) => all,
            (Err(e), Corrupt::Fail) => {
                return Err(e.context(format!(
                    "cannot read the checkpoints in the {describe} (set checkpoints.corrupt = \"start_over\" to start every source from the beginning)"
                )));
            }
            (Err(e), Corrupt::StartOver) => {
                tracing::warn!(
                    "cannot read the checkpoints in the {describe}: {e:#}; every source starts from the beginning (checkpoints.corrupt = \"start_over\")"
                );
                HashMap::new()
            }
        };
        tracing::info!("{} source checkpoint(s) found in the {describe}", all.len());
        Ok(all)
    }

    /// The transactional producer of exactly-once source `name`, registered
    /// with the cluster on first use.
    pub fn producer(&self, name: &str) -> Result<Option<Arc<SharedProducer>>> {
        self.transactional
            .as_ref()
            .map(|t| t.get_or_init(name))
            .transpose()
    }

    /// Commits `tracker`'s acknowledged checkpoints of source `name` from
    /// now on.
    pub fn track(&self, name: &str, tracker: Arc<CheckpointTracker>) {
        self.committer.register(name, tracker);
    }

    /// Every source's checkpoint commits so far.
    pub fn commits(&self) -> HashMap<String, checkpoint::Commits> {
        self.committer.commits()
    }

    /// Commits `name`'s last acknowledged checkpoint now (its pipeline was
    /// drained) and stops tracking it.
    pub fn commit_final(&self, name: &str) {
        self.committer.finish(name);
    }

    /// Lets go of what `name` held: its transactional producer.
    pub fn release(&self, name: &str) {
        if let Some(t) = &self.transactional {
            t.remove(name);
        }
    }

    /// The final commit of every source, after the last flush.
    pub fn stop(self) {
        self.committer.stop();
    }
}
