//! Where a source's pipeline is built from the config and started on a
//! thread of its own, and where it is drained and stopped (at the end of a
//! run, or when a reload removes or reshapes it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wasmtime::Engine;

use crate::checkpoint::Committer;
use crate::config::{Config, Delivery, SourceConfig};
use crate::pipeline::quota::QuotaSlot;
use crate::pipeline::{
    Backoff, Pipeline, PipelineEnv, PipelineSpec, PluginSpec, Stop, SwapQueue, Transactions,
};
use crate::plugin::LoadedPlugin;
use crate::producer::dead_letter::{DeadLetter, DeadLetterTarget};
use crate::producer::{
    Admission, InFlight, RecordSink, SharedProducer, TransactionalProducers, TxnOutcome,
};
use crate::stats::StatsRegistry;

/// What every pipeline of a run shares.
pub struct Shared {
    pub engine: Engine,
    /// The brokers, for clients besides the producer (topic creation).
    pub bootstrap: String,
    pub producer: Arc<SharedProducer>,
    pub admission: Arc<Admission>,
    pub dead_letters: std::sync::mpsc::Sender<DeadLetter>,
    pub stats: Mutex<StatsRegistry>,
    /// Partitions of every topic the run may produce to.
    pub partition_counts: Mutex<HashMap<String, u32>>,
    /// One quota per tenant, shared by all its sources.
    pub tenant_quotas: Mutex<HashMap<String, Arc<QuotaSlot>>>,
    /// Commits acknowledged checkpoints, if `[checkpoints]` is configured.
    pub committer: Option<Committer>,
    /// The producers of exactly-once sources (`[checkpoints]` in Kafka).
    pub transactional: Option<TransactionalProducers>,
}

/// One source's pipeline, running.
pub struct Running {
    handle: JoinHandle<Option<Vec<u8>>>,
    stop: Arc<Stop>,
    pub swaps: Arc<SwapQueue>,
    pub sink: Arc<RecordSink>,
    pub quota: Arc<QuotaSlot>,
    /// The names of its plugins: source, transforms, partitioner.
    pub plugins: Vec<String>,
}

impl Shared {
    pub fn stats(&self) -> std::sync::MutexGuard<'_, StatsRegistry> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spec of plugin `name` as `config` defines it, loaded as `plugin`.
    pub fn plugin_spec(
        &self,
        config: &Config,
        name: &str,
        plugin: Arc<LoadedPlugin>,
    ) -> Option<PluginSpec> {
        let (limits, settings, capabilities) = if let Some(s) = config.source(name) {
            (s.limits, &s.config, &s.capabilities)
        } else if let Some(t) = config.transform(name) {
            (t.limits, &t.config, &t.capabilities)
        } else {
            let p = config.partitioner(name)?;
            (p.limits, &p.config, &p.capabilities)
        };
        let stats = self.stats().register(name, plugin.world, &plugin.hash);
        Some(PluginSpec {
            name: Arc::from(name),
            stats,
            plugin,
            limits,
            settings: settings.0.clone(),
            capabilities: capabilities.clone(),
        })
    }

    /// Builds source `s`'s pipeline and starts it, resuming from `resume`.
    pub fn start(
        &self,
        config: &Config,
        plugins: &HashMap<String, Arc<LoadedPlugin>>,
        s: &SourceConfig,
        resume: Option<Vec<u8>>,
    ) -> Result<Running> {
        let spec = |name: &str| {
            let plugin = plugins
                .get(name)
                .with_context(|| format!("plugin `{name}` is not loaded"))?;
            self.plugin_spec(config, name, plugin.clone())
                .with_context(|| format!("plugin `{name}` is not in the config"))
        };
        let source = spec(s.name.get_ref())?;
        let counts = self
            .partition_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let count = |topic: &str| {
            counts
                .get(topic)
                .copied()
                .with_context(|| format!("topic `{topic}` has no known partition count"))
        };
        let mut topics = HashMap::from([(s.topic.get_ref().clone(), count(s.topic.get_ref())?)]);
        let mut transforms = Vec::new();
        for t in s.transforms.get_ref() {
            if let Some(t) = config.transform(t) {
                for extra in &t.topics {
                    topics.insert(extra.clone(), count(extra)?);
                }
                transforms.push(spec(t.name.get_ref())?);
            }
        }
        let partitioner = match &s.partitioner {
            Some(p) => Some(spec(p.get_ref())?),
            None => None,
        };
        let mut plugin_names = vec![s.name.get_ref().clone()];
        plugin_names.extend(transforms.iter().map(|t| t.name.to_string()));
        plugin_names.extend(partitioner.iter().map(|p| p.name.to_string()));

        let mut sink = RecordSink::new(
            source.stats.clone(),
            InFlight::new(s.max_in_flight_records, s.max_in_flight_bytes.0),
        );
        if let Some(topic) = config
            .tenant_of(s)
            .and_then(|t| t.dead_letter_topic.clone())
        {
            // Dead letters have their own in-flight count, so that a source
            // whose records all fail cannot block on its own dead letters.
            let mut carrier = RecordSink::new(
                source.stats.clone(),
                InFlight::new(s.max_in_flight_records, s.max_in_flight_bytes.0),
            );
            carrier.carries_dead_letters = true;
            sink.dead_letter = Some(DeadLetterTarget {
                topic,
                plugin: source.name.clone(),
                sink: Arc::new(carrier),
                queue: self.dead_letters.clone(),
            });
        }
        let exactly_once = *s.delivery.get_ref() == Delivery::ExactlyOnce;
        let mut transactions = None;
        let mut producer = self.producer.clone();
        if exactly_once {
            let (Some(txn), Some(checkpoints)) = (&self.transactional, &config.checkpoints) else {
                bail!(
                    "source `{}`: exactly-once delivery needs `[checkpoints]` in Kafka",
                    s.name.get_ref()
                );
            };
            producer = txn.get_or_init(s.name.get_ref())?;
            // Its records count as delivered when their transaction commits;
            // its own producer has its own queue, so the shared window is
            // not its to take.
            sink.transaction = Some(TxnOutcome::default());
            sink.checkpoints.set_durable();
            transactions = Some(Transactions::new(
                producer.clone(),
                &checkpoints.topic,
                source.name.clone(),
                Duration::from_millis(checkpoints.interval_ms.max(1)),
                Duration::from_millis(config.kafka.message_timeout_ms) + Duration::from_secs(5),
                source.stats.clone(),
            ));
        } else {
            sink.admission = Some(self.admission.clone());
        }
        let sink = Arc::new(sink);
        if let Some(c) = self.committer.as_ref().filter(|_| !exactly_once) {
            c.register(s.name.get_ref(), sink.checkpoints.clone());
        }
        let quota = Arc::new(QuotaSlot::new(&s.quota));
        let mut quotas = vec![quota.clone()];
        if let Some(t) = config.tenant_of(s) {
            let tenant_quota = self
                .tenant_quotas
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(t.name.get_ref().clone())
                .or_insert_with(|| Arc::new(QuotaSlot::new(&t.quota)))
                .clone();
            quotas.push(tenant_quota);
        }
        let stop = Arc::new(Stop::default());
        let swaps = Arc::new(SwapQueue::default());
        let pipeline = Pipeline::new(
            PipelineSpec {
                source,
                transforms,
                partitioner,
                topic: s.topic.get_ref().clone(),
                topics,
                batch_size: s.batch_size,
                max_record_bytes: s.max_record_bytes.0,
                quotas,
                sink: sink.clone(),
                ticket: self.admission.ticket(s.weight),
                swaps: swaps.clone(),
                transactions,
            },
            PipelineEnv {
                engine: self.engine.clone(),
                producer,
                stop: stop.clone(),
                backoff: Backoff {
                    initial: Duration::from_millis(config.runtime.restart_backoff_ms),
                    max: Duration::from_millis(config.runtime.restart_backoff_max_ms),
                    max_restarts: config.runtime.max_restarts,
                    window: Duration::from_millis(config.runtime.restart_window_ms),
                },
                idle: Duration::from_millis(config.runtime.idle_backoff_ms),
            },
        )
        .resume_from(resume);
        let handle = std::thread::Builder::new()
            .name(format!("source-{}", s.name.get_ref()))
            .spawn(move || pipeline.run())
            .context("cannot start a pipeline thread")?;
        Ok(Running {
            handle,
            stop,
            swaps,
            sink,
            quota,
            plugins: plugin_names,
        })
    }

    /// Where a source added by a reload resumes: its committed checkpoint.
    /// An exactly-once source's producer is registered first, which aborts
    /// any transaction a crashed instance left open.
    pub fn resume_point(&self, s: &SourceConfig) -> Result<Option<Vec<u8>>> {
        let name = s.name.get_ref();
        if *s.delivery.get_ref() == Delivery::ExactlyOnce
            && let Some(txn) = &self.transactional
        {
            txn.get_or_init(name)?;
        }
        match &self.committer {
            Some(c) => c
                .load(name)
                .with_context(|| format!("cannot read the checkpoint of source `{name}`")),
            None => Ok(None),
        }
    }
}

impl Running {
    /// The source finished, or its pipeline stopped for good.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Asks the pipeline to stop after its current batch.
    pub fn raise_stop(&self) {
        self.stop.raise();
    }

    /// Stops the pipeline after its current batch, waits until every record
    /// it handed over has a delivery report (up to `deadline`), and returns
    /// the source's last checkpoint.
    pub fn drain(self, deadline: Instant) -> Option<Vec<u8>> {
        self.stop.raise();
        let checkpoint = self.handle.join().unwrap_or_else(|_| {
            tracing::error!("a pipeline thread panicked");
            None
        });
        while self.sink.in_flight.records() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        checkpoint
    }

    /// Waits for the pipeline thread (after a stop was raised, or the
    /// source finished).
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("a pipeline thread panicked");
        }
    }
}
