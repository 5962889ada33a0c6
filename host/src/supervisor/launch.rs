//! Where a source's pipeline is built from the config and started on a
//! thread of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Plugins;
use super::handle::PipelineHandle;
use super::resources::Resources;
use crate::config::{Config, Delivery, SourceConfig};
use crate::format::Codecs;
use crate::pipeline::quota::QuotaSlot;
use crate::pipeline::{
    Backoff, Pipeline, PipelineEnv, PipelineSpec, PluginSpec, Stop, SwapQueue, Transactions,
};
use crate::plugin::LoadedPlugin;
use crate::producer::sink::DeadLetterTarget;
use crate::producer::{InFlight, RecordSink, SharedProducer, TxnOutcome};

/// The spec of plugin `name` as `config` defines it, loaded as `plugin`.
pub fn plugin_spec(
    res: &Resources,
    config: &Config,
    name: &str,
    plugin: Arc<LoadedPlugin>,
) -> Option<PluginSpec> {
    let (limits, settings, capabilities, tenant) = if let Some(s) = config.source(name) {
        (s.limits, &s.config, &s.capabilities, &s.tenant)
    } else if let Some(t) = config.transform(name) {
        (t.limits, &t.config, &t.capabilities, &t.tenant)
    } else {
        let p = config.partitioner(name)?;
        (p.limits, &p.config, &p.capabilities, &p.tenant)
    };
    let tenant = tenant.as_ref().map(|t| t.get_ref().as_str());
    let stats = res
        .stats()
        .register(name, plugin.world, &plugin.hash, tenant);
    Some(PluginSpec {
        name: Arc::from(name),
        stats,
        plugin,
        limits,
        settings: settings.0.clone(),
        capabilities: capabilities.clone(),
        registry: res.registry.clone(),
    })
}

/// Builds source `s`'s pipeline and starts it, resuming from `resume`.
pub fn start(
    res: &Resources,
    config: &Config,
    plugins: &Plugins,
    s: &SourceConfig,
    resume: Option<Vec<u8>>,
) -> Result<PipelineHandle> {
    let spec = |name: &str| {
        let plugin = plugins
            .get(name)
            .with_context(|| format!("plugin `{name}` is not loaded"))?;
        plugin_spec(res, config, name, plugin.clone())
            .with_context(|| format!("plugin `{name}` is not in the config"))
    };
    let source = spec(s.name.get_ref())?;
    let transforms = s
        .transforms
        .get_ref()
        .iter()
        .map(|t| spec(t))
        .collect::<Result<Vec<_>>>()?;
    let partitioner = s
        .partitioner
        .as_ref()
        .map(|p| spec(p.get_ref()))
        .transpose()?;
    let mut plugin_names = vec![s.name.get_ref().clone()];
    plugin_names.extend(transforms.iter().map(|t| t.name.to_string()));
    plugin_names.extend(partitioner.iter().map(|p| p.name.to_string()));

    let mut sink = sink(res, config, s, &source);
    let (producer, transactions) = delivery(res, config, s, &source, &mut sink)?;
    let sink = Arc::new(sink);
    if transactions.is_none() {
        res.track_checkpoints(s.name.get_ref(), &sink);
    }
    let quota = Arc::new(QuotaSlot::new(&s.quota));
    let mut quotas = vec![quota.clone()];
    if let Some(t) = config.tenant_of(s) {
        quotas.push(res.tenant_quota(t));
    }
    let topics = topics_of(res, config, s)?;
    let codecs = Codecs::new(s, &config.base_dir, topics.keys(), res.registry.clone())?;
    let stop = Arc::new(Stop::default());
    let swaps = Arc::new(SwapQueue::interrupting(stop.interrupt()));
    let pipeline = Pipeline::new(
        PipelineSpec {
            source,
            transforms,
            partitioner,
            topic: s.topic.get_ref().clone(),
            topics,
            codecs,
            batch_size: s.batch_size,
            max_record_bytes: s.max_record_bytes.get_ref().0,
            quotas,
            sink: sink.clone(),
            ticket: res.admission.ticket(s.weight),
            swaps: swaps.clone(),
            transactions,
        },
        PipelineEnv {
            engine: res.engine.clone(),
            producer,
            stop: stop.clone(),
            backoff: backoff(config),
            idle: Duration::from_millis(config.runtime.idle_backoff_ms),
        },
    )
    .resume_from(resume);
    let thread = std::thread::Builder::new()
        .name(format!("source-{}", s.name.get_ref()))
        .spawn(move || pipeline.run())
        .context("cannot start a pipeline thread")?;
    Ok(PipelineHandle {
        thread,
        stop,
        swaps,
        sink,
        quota,
        plugins: plugin_names,
    })
}

/// Every topic the pipeline may produce to, with its partition count: the
/// source's own and those its transforms may route to.
fn topics_of(res: &Resources, config: &Config, s: &SourceConfig) -> Result<HashMap<String, u32>> {
    let routed = s
        .transforms
        .get_ref()
        .iter()
        .filter_map(|t| config.transform(t))
        .flat_map(|t| t.topics.iter());
    std::iter::once(s.topic.get_ref())
        .chain(routed)
        .map(|t| Ok((t.clone(), res.topics.partition_count(t)?)))
        .collect()
}

/// Where the source's delivery reports go, with its in-flight caps and, if
/// its tenant has one, its dead-letter topic.
fn sink(res: &Resources, config: &Config, s: &SourceConfig, source: &PluginSpec) -> RecordSink {
    let caps = || InFlight::new(s.max_in_flight_records, s.max_in_flight_bytes.0);
    let mut sink = RecordSink::new(source.stats.clone(), caps());
    if let Some(topic) = config
        .tenant_of(s)
        .and_then(|t| t.dead_letter_topic.clone())
    {
        // Dead letters have their own in-flight count, so that a source
        // whose records all fail cannot block on its own dead letters.
        let mut carrier = RecordSink::new(source.stats.clone(), caps());
        carrier.carries_dead_letters = true;
        sink.dead_letter = Some(DeadLetterTarget {
            topic,
            plugin: source.name.clone(),
            sink: Arc::new(carrier),
            queue: res.dead_letter_queue(),
        });
    }
    sink
}

/// The producer the source's records go through: the shared one, behind
/// the admission window, or for an exactly-once source its own
/// transactional one, with the transactions it runs.
fn delivery(
    res: &Resources,
    config: &Config,
    s: &SourceConfig,
    source: &PluginSpec,
    sink: &mut RecordSink,
) -> Result<(Arc<SharedProducer>, Option<Transactions>)> {
    if *s.delivery.get_ref() != Delivery::ExactlyOnce {
        sink.admission = Some(res.admission.clone());
        return Ok((res.producer.clone(), None));
    }
    let (Some(producer), Some(checkpoints)) = (
        res.transactional_producer(s.name.get_ref())?,
        &config.checkpoints,
    ) else {
        bail!(
            "source `{}`: exactly-once delivery needs `[checkpoints]` in Kafka",
            s.name.get_ref()
        );
    };
    // Its records count as delivered when their transaction commits; its
    // own producer has its own queue, so the shared window is not its to take.
    sink.transaction = Some(TxnOutcome::default());
    sink.checkpoints.set_durable();
    let transactions = Transactions::new(
        producer.clone(),
        &checkpoints.topic,
        source.name.clone(),
        Duration::from_millis(checkpoints.interval_ms.max(1)),
        Duration::from_millis(config.kafka.message_timeout_ms) + Duration::from_secs(5),
        source.stats.clone(),
    );
    Ok((producer, Some(transactions)))
}

fn backoff(config: &Config) -> Backoff {
    Backoff {
        initial: Duration::from_millis(config.runtime.restart_backoff_ms),
        max: Duration::from_millis(config.runtime.restart_backoff_max_ms),
        max_restarts: config.runtime.max_restarts,
        window: Duration::from_millis(config.runtime.restart_window_ms),
    }
}
