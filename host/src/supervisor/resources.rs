//! What every pipeline of a run shares: the engine, the producer and its
//! window, topics, dead letters, counters, tenant quotas and checkpoints.
//! Also the end of a run: the last flush and the summary.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;
use wasmtime::Engine;

use super::resume::Resume;
use crate::config::{Config, Quota, TenantConfig};
use crate::format::registry::SchemaRegistry;
use crate::pipeline::quota::QuotaSlot;
use crate::producer::dead_letter::DeadLetterQueue;
use crate::producer::settings::ClientSettings;
use crate::producer::sink::DeadLetter;
use crate::producer::topics::Topics;
use crate::producer::{Admission, RecordSink, SharedProducer};
use crate::stats::{StatsRegistry, Summary};

pub struct Resources {
    pub engine: Engine,
    pub producer: Arc<SharedProducer>,
    /// The shared producer's window, taken in turns by weight.
    pub admission: Arc<Admission>,
    pub topics: Topics,
    /// How long a record may take to be delivered: bounds every drain.
    pub message_timeout: Duration,
    dead_letters: DeadLetterQueue,
    stats: Mutex<StatsRegistry>,
    /// One quota per tenant, shared by all its sources.
    tenant_quotas: Mutex<HashMap<String, Arc<QuotaSlot>>>,
    /// Checkpoints, if `[checkpoints]` is configured.
    resume: Option<Resume>,
    /// The `[schema_registry]` of the config the host started with, shared
    /// (with its caches) by every pipeline and plugin.
    pub registry: Option<Arc<SchemaRegistry>>,
}

impl Resources {
    /// `client` is the shared producer's config, for the checkpoint store
    /// and the transactional producers.
    pub fn new(
        config: &Config,
        engine: Engine,
        producer: Arc<SharedProducer>,
        client: &ClientSettings,
        topics: Topics,
    ) -> Result<Self> {
        let resume = config
            .checkpoints
            .as_ref()
            .map(|c| Resume::open(c, client, config.kafka.message_timeout_ms, &topics))
            .transpose()?;
        Ok(Self {
            engine,
            dead_letters: DeadLetterQueue::start(producer.clone())?,
            producer,
            admission: Arc::new(Admission::new(
                config.kafka.max_in_flight_records,
                config.kafka.max_in_flight_bytes.0,
            )),
            topics,
            message_timeout: Duration::from_millis(config.kafka.message_timeout_ms),
            stats: Mutex::new(StatsRegistry::default()),
            tenant_quotas: Mutex::new(HashMap::new()),
            resume,
            registry: config
                .resolved_registry
                .as_ref()
                .map(|r| Arc::new(SchemaRegistry::new(r))),
        })
    }

    pub fn stats(&self) -> MutexGuard<'_, StatsRegistry> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tenant_quotas(&self) -> MutexGuard<'_, HashMap<String, Arc<QuotaSlot>>> {
        self.tenant_quotas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tenant `t`'s quota, shared by all its sources.
    pub fn tenant_quota(&self, t: &TenantConfig) -> Arc<QuotaSlot> {
        self.tenant_quotas()
            .entry(t.name.get_ref().clone())
            .or_insert_with(|| Arc::new(QuotaSlot::new(&t.quota)))
            .clone()
    }

    /// Changes tenant `name`'s quota in place, for all its sources.
    pub fn set_tenant_quota(&self, name: &str, quota: &Quota) {
        if let Some(q) = self.tenant_quotas().get(name) {
            q.set(quota);
        }
    }

    pub fn dead_letter_queue(&self) -> Sender<DeadLetter> {
        self.dead_letters.sender()
    }

    /// Commits the checkpoints `sink` sees acknowledged, for source `name`.
    pub fn track_checkpoints(&self, name: &str, sink: &RecordSink) {
        if let Some(r) = &self.resume {
            r.track(name, sink.checkpoints.clone());
        }
    }

    /// The committed checkpoints of sources `names` (see [`Resume::committed`]).
    pub fn committed_checkpoints(
        &self,
        config: &Config,
        names: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>> {
        match &self.resume {
            Some(r) => r.committed(config, names),
            None => Ok(HashMap::new()),
        }
    }

    /// Exactly-once source `name`'s own producer; `None` without a Kafka
    /// checkpoint store.
    pub fn transactional_producer(&self, name: &str) -> Result<Option<Arc<SharedProducer>>> {
        match &self.resume {
            Some(r) => r.producer(name),
            None => Ok(None),
        }
    }

    /// Every source's checkpoint commits so far (none without `[checkpoints]`).
    pub fn checkpoint_commits(&self) -> HashMap<String, crate::checkpoint::Commits> {
        self.resume
            .as_ref()
            .map(|r| r.commits())
            .unwrap_or_default()
    }

    /// After a drain: commits `name`'s last acknowledged checkpoint.
    pub fn commit_final(&self, name: &str) {
        if let Some(r) = &self.resume {
            r.commit_final(name);
        }
    }

    /// After a drain: lets go of what source `name` held, for good.
    pub fn release(&self, name: &str) {
        if let Some(r) = &self.resume {
            r.release(name);
        }
    }

    /// Once every pipeline has handed over its last batch: waits for the
    /// delivery reports, writes the dead letters they produced, commits the
    /// final checkpoints, and sums up.
    pub fn finish(self, embedded_cluster: bool, started: Instant) -> Summary {
        let deadline = Instant::now() + self.message_timeout + Duration::from_secs(5);
        let mut left = self.producer.flush(deadline);
        // Every delivery report is in, so every dead letter is queued: write
        // them, then wait for their own reports.
        self.dead_letters.finish();
        left += self.producer.flush(deadline + Duration::from_secs(10));
        if left > 0 {
            tracing::error!("{left} records were still undelivered when the flush deadline passed");
        }
        // Every report is in: the final checkpoints are the last batches'.
        if let Some(r) = self.resume {
            r.stop();
        }
        self.stats
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .summary(embedded_cluster, started.elapsed().as_secs_f64())
    }
}
