//! The producers of exactly-once sources: one transactional producer per
//! source (a transaction belongs to one producer, and one source's commit
//! must not wait for another's records). What a transaction's delivery
//! reports add up to is in `transaction_outcome`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rdkafka::config::ClientConfig;

use super::settings::ClientSettings;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;

use super::reports::DeliveryRouter;
use super::shared::SharedProducer;

/// The transactional producer of each exactly-once source, made on first
/// use and kept across restarts of its pipeline.
pub struct TransactionalProducers {
    settings: ClientSettings,
    message_timeout_ms: u64,
    /// Part of every transactional id: the checkpoint topic, whose key for
    /// the source is the other part, so one id stands for one source state.
    checkpoint_topic: String,
    producers: Mutex<HashMap<String, Arc<SharedProducer>>>,
}

impl TransactionalProducers {
    /// Same brokers, batching and compression as the shared producer.
    /// `message_timeout_ms` bounds a transaction's length too.
    pub fn new(settings: &ClientSettings, checkpoint_topic: &str, message_timeout_ms: u64) -> Self {
        Self {
            settings: settings.clone(),
            message_timeout_ms,
            checkpoint_topic: checkpoint_topic.to_string(),
            producers: Mutex::new(HashMap::new()),
        }
    }

    /// The transactional id of `source`.
    pub fn id(&self, source: &str) -> String {
        format!("streamplug:{}:{source}", self.checkpoint_topic)
    }

    /// `source`'s producer, made and registered with the cluster if it is
    /// new. Registering fences any earlier producer with the same id (a
    /// crashed or still running instance of this source) and aborts its open
    /// transaction, so it must happen before the source's checkpoint is read.
    pub fn get_or_init(&self, source: &str) -> Result<Arc<SharedProducer>> {
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = producers.get(source) {
            return Ok(p.clone());
        }
        let id = self.id(source);
        let config = self.settings.transactional(&id, self.message_timeout_ms);
        let producer = SharedProducer::transactional(&config, &id)
            .with_context(|| format!("exactly-once source `{source}`"))?;
        let producer = Arc::new(producer);
        producers.insert(source.to_string(), producer.clone());
        Ok(producer)
    }

    /// Forgets `source`'s producer (the source was removed).
    pub fn remove(&self, source: &str) {
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source);
    }
}

/// What a failed transaction call means for the source.
pub enum TxnError {
    /// Try the same call again.
    Retriable(String),
    /// The open transaction must be aborted.
    Abort(String),
    /// This producer cannot go on (fenced by a newer instance, or a fatal
    /// producer error): the source stops.
    Fatal(String),
}

fn classify(e: KafkaError) -> TxnError {
    let text = e.to_string();
    match &e {
        KafkaError::Transaction(t) if t.is_fatal() => TxnError::Fatal(text),
        KafkaError::Transaction(t) if t.txn_requires_abort() => TxnError::Abort(text),
        KafkaError::Transaction(t) if t.is_retriable() => TxnError::Retriable(text),
        _ => TxnError::Abort(text),
    }
}

impl SharedProducer {
    /// A producer of its own for one exactly-once source, registered with
    /// the cluster under `id`.
    fn transactional(config: &ClientConfig, id: &str) -> Result<Self> {
        let producer: rdkafka::producer::BaseProducer<DeliveryRouter> = config
            .create_with_context(DeliveryRouter::default())
            .context("cannot create its transactional producer")?;
        super::oauth::give_token(config, producer.client())?;
        let producer = Self::serving(producer)?;
        producer
            .producer
            .init_transactions(Duration::from_secs(30))
            .map_err(|e| {
                anyhow!(
                    "cannot register transactional id `{id}` with the cluster: {e} (transactions need a broker with `transaction.state.log.*` settings its size allows)"
                )
            })?;
        Ok(producer)
    }

    pub fn begin_transaction(&self) -> Result<(), TxnError> {
        self.producer.begin_transaction().map_err(classify)
    }

    /// Flushes the open transaction's records and commits them.
    pub fn commit_transaction(&self, timeout: Duration) -> Result<(), TxnError> {
        self.producer.commit_transaction(timeout).map_err(classify)
    }

    /// Aborts the open transaction; its queued records are purged.
    pub fn abort_transaction(&self, timeout: Duration) -> Result<(), TxnError> {
        self.producer.abort_transaction(timeout).map_err(classify)
    }
}
