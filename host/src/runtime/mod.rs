//! `streamplug run`: load every plugin, connect to Kafka, run the pipelines
//! until the sources finish or a signal arrives, flush, and summarise.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::checkpoint::{self, Committer};
use crate::config::{Config, Corrupt, Delivery, StoreKind};
use crate::engine::{self, EpochTicker};
use crate::pipeline::Stop;
use crate::plugin::{LoadedPlugin, Loader};
use crate::producer::dead_letter::DeadLetterQueue;
use crate::producer::embedded::EmbeddedCluster;
use crate::producer::topics::{self, TopicSpec};
use crate::producer::{Admission, SharedProducer, TransactionalProducers, settings};
use crate::reload::{Controls, Reloader, reload_on_sighup};
use crate::stats::{StatsRegistry, Summary};

mod pipelines;

pub use pipelines::{Running, Shared};

/// Runs a configuration until its sources finish or SIGINT/SIGTERM arrives,
/// and returns its summary.
pub fn run(config: &Config) -> Result<Summary> {
    run_until(config, Arc::new(Stop::default()), true)
}

/// Runs a configuration until its sources finish or `stop` is raised (by
/// the caller, or by SIGINT/SIGTERM if `on_signals`), and returns its summary.
pub fn run_until(config: &Config, stop: Arc<Stop>, on_signals: bool) -> Result<Summary> {
    run_with(config, stop, Arc::new(Controls::default()), on_signals)
}

/// As [`run_until`], with `controls` to ask for reloads from outside.
pub fn run_with(
    config: &Config,
    stop: Arc<Stop>,
    controls: Arc<Controls>,
    on_signals: bool,
) -> Result<Summary> {
    let started = Instant::now();
    let signals = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    let engine = engine::build_with(
        config
            .runtime
            .pooling_allocator
            .then_some(config.runtime.max_instances),
    )?;
    let _ticker = EpochTicker::start(&engine)?;
    let loader = Loader::new(&engine, config.runtime.cache_dir.clone())?;
    let plugins = load_plugins(config, &loader)?;

    let topic_specs = topic_specs(config);
    let embedded = match &config.kafka.brokers {
        Some(_) => None,
        None => Some(EmbeddedCluster::start(&topic_specs)?),
    };
    let bootstrap = match (&embedded, &config.kafka.brokers) {
        (Some(e), _) => {
            eprintln!(
                "streamplug: no brokers configured: using an embedded in-process Kafka cluster \
                 (in-memory, not durable, keeps only the newest records of each partition)"
            );
            e.bootstrap_servers()
        }
        (None, Some(b)) => b.clone(),
        (None, None) => unreachable!("either brokers or the embedded cluster"),
    };
    let client_config = settings::client_config(&config.kafka, &bootstrap);
    if embedded.is_none() {
        signals.block_on(topics::ensure(
            &settings::admin_config(&client_config),
            &topic_specs,
        ))?;
    }
    let producer = Arc::new(SharedProducer::new(&client_config)?);
    let mut partition_counts = HashMap::new();
    for t in &topic_specs {
        let n = topics::partition_count(producer.client(), &t.name, Duration::from_secs(30))?;
        partition_counts.insert(t.name.clone(), n);
    }
    if client_config.get("enable.idempotence") == Some("true") {
        wait_for_broker_connection(&producer, &topic_specs);
    }
    tracing::info!(brokers = %bootstrap, topics = topic_specs.len(), "connected to Kafka");

    if on_signals {
        let stop_on_signal = stop.clone();
        signals.spawn(async move {
            wait_for_signal().await;
            eprintln!("streamplug: stopping: finishing current batches and flushing");
            stop_on_signal.raise();
        });
    }

    // Where sources resume from: their last checkpoint that Kafka
    // acknowledged, if checkpoints are kept.
    let (committer, committed, transactional) = match &config.checkpoints {
        None => (None, HashMap::new(), None),
        Some(c) => {
            let store = checkpoint::open_store(c, &client_config, &signals)?;
            let transactional = (c.store == StoreKind::Kafka).then(|| {
                TransactionalProducers::new(
                    &client_config,
                    &c.topic,
                    config.kafka.message_timeout_ms,
                )
            });
            // Registering an exactly-once source's producer aborts the
            // transaction a crashed run left open. That must happen before
            // the checkpoints are read: an open transaction hides every
            // checkpoint written after it began, other sources' included.
            if let Some(txn) = &transactional {
                for s in &config.sources {
                    if *s.delivery.get_ref() == Delivery::ExactlyOnce {
                        txn.get_or_init(s.name.get_ref())?;
                    }
                }
            }
            let committed = match (store.load_all(), c.corrupt) {
                (Ok(all), _) => all,
                (Err(e), Corrupt::Fail) => {
                    return Err(e.context(format!(
                        "cannot read the checkpoints in the {} (set checkpoints.corrupt = \"start_over\" to start every source from the beginning)",
                        store.describe()
                    )));
                }
                (Err(e), Corrupt::StartOver) => {
                    tracing::warn!(
                        "cannot read the checkpoints in the {}: {e:#}; every source starts from the beginning (checkpoints.corrupt = \"start_over\")",
                        store.describe()
                    );
                    HashMap::new()
                }
            };
            tracing::info!(
                "{} source checkpoint(s) found in the {}",
                committed.len(),
                store.describe()
            );
            let interval = Duration::from_millis(c.interval_ms.max(1));
            (
                Some(Committer::start(store, interval)?),
                committed,
                transactional,
            )
        }
    };
    let dead_letters = DeadLetterQueue::start(producer.clone())?;
    let shared = Shared {
        engine: engine.clone(),
        bootstrap: bootstrap.clone(),
        producer: producer.clone(),
        admission: Arc::new(Admission::new(
            config.kafka.max_in_flight_records,
            config.kafka.max_in_flight_bytes.0,
        )),
        dead_letters: dead_letters.sender(),
        stats: Mutex::new(StatsRegistry::default()),
        partition_counts: Mutex::new(partition_counts),
        tenant_quotas: Mutex::new(HashMap::new()),
        committer,
        transactional,
    };
    let mut running = BTreeMap::new();
    for s in &config.sources {
        let resume = committed.get(s.name.get_ref()).cloned();
        if resume.is_some() {
            tracing::info!(
                plugin = s.name.get_ref().as_str(),
                "resuming from its last committed checkpoint"
            );
        }
        let pipeline = shared.start(config, &plugins, s, resume)?;
        running.insert(s.name.get_ref().clone(), pipeline);
    }
    eprintln!(
        "streamplug: running {} source(s); Ctrl-C stops",
        running.len()
    );

    let mut reloader = Reloader::new(config, plugins.clone(), loader, &controls)?;
    if on_signals {
        let trigger = controls.clone();
        signals.spawn(async move { reload_on_sighup(trigger).await });
    }
    // Until every source has finished or a stop is raised: apply reloads.
    loop {
        if stop.is_raised() {
            break;
        }
        running.retain(|_, p| !p.is_finished());
        if running.is_empty() {
            break;
        }
        if let Some(requested) = controls.wait_for_reload(&stop, Duration::from_millis(100)) {
            reloader.reload(&shared, &mut running, &signals, requested);
        }
    }
    for p in running.values() {
        p.raise_stop();
    }
    for (_, p) in std::mem::take(&mut running) {
        p.join();
    }
    // Every pipeline has handed over its last batch; wait for the reports.
    let deadline = Instant::now()
        + Duration::from_millis(config.kafka.message_timeout_ms)
        + Duration::from_secs(5);
    let mut left = producer.flush(deadline);
    // Every delivery report is in, so every dead letter is queued: write
    // them, then wait for their own reports.
    dead_letters.finish();
    left += producer.flush(deadline + Duration::from_secs(10));
    if left > 0 {
        tracing::error!("{left} records were still undelivered when the flush deadline passed");
    }
    let Shared {
        stats, committer, ..
    } = shared;
    // Every report is in: the final checkpoints are the last batches'.
    if let Some(c) = committer {
        c.stop();
    }
    drop(reloader);
    drop(producer);
    let summary = stats
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .summary(embedded.is_some(), started.elapsed().as_secs_f64());
    drop(embedded);
    Ok(summary)
}

/// An idempotent producer asks for its producer id when a metadata response
/// arrives while a connection to a broker (by its node id) is up, and
/// otherwise on a 500 ms timer. The checks above are answered over the
/// bootstrap connection before that one is up, so about half of all starts
/// stalled for 500 ms with the sources' windows filling (measured by the
/// bench's timelines: docs/performance.md). Asking again until a broker
/// answers by its id makes the request happen at once.
fn wait_for_broker_connection(producer: &SharedProducer, topics: &[TopicSpec]) {
    let Some(topic) = topics.first() else { return };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match producer
            .client()
            .fetch_metadata(Some(&topic.name), Duration::from_secs(1))
        {
            Ok(md) if md.orig_broker_id() >= 0 => return,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn load_plugins(config: &Config, loader: &Loader) -> Result<HashMap<String, Arc<LoadedPlugin>>> {
    config
        .plugin_files()
        .into_iter()
        .map(|(name, path, world)| {
            let loaded = loader.load_as(&name, &path, world)?;
            Ok((name, loaded))
        })
        .collect()
}

/// Every topic the run may produce to: sources' own, transforms' routes and
/// tenants' dead-letter topics.
pub(crate) fn topic_specs(config: &Config) -> Vec<TopicSpec> {
    let mut specs: BTreeMap<String, TopicSpec> = BTreeMap::new();
    for s in &config.sources {
        specs
            .entry(s.topic.get_ref().clone())
            .or_insert_with(|| TopicSpec {
                name: s.topic.get_ref().clone(),
                partitions: s.partitions,
                replication: s.replication,
                config: s.topic_config.clone(),
            });
    }
    let dead_letter_topics = config
        .tenants
        .iter()
        .filter_map(|t| t.dead_letter_topic.as_ref());
    let routed = config.transforms.iter().flat_map(|t| t.topics.iter());
    for name in routed.chain(dead_letter_topics) {
        specs.entry(name.clone()).or_insert_with(|| TopicSpec {
            name: name.clone(),
            partitions: config.kafka.default_partitions,
            replication: config.kafka.default_replication,
            config: BTreeMap::new(),
        });
    }
    specs.into_values().collect()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
