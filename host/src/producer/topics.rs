//! Topics: which ones a config produces to, created if missing with the
//! configured partitions, replication and topic configs; then their
//! partition counts, which partitioners need.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::Config;

/// A topic the run produces to, and how to create it if it is missing.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication: i16,
    pub config: BTreeMap<String, String>,
}

/// Every topic `config` may produce to: sources' own, transforms' routes and
/// tenants' dead-letter topics.
pub fn specs(config: &Config) -> Vec<TopicSpec> {
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

/// The topics a run produces to: created when missing, their partition
/// counts learned once.
pub struct Topics {
    admin: AdminClient<DefaultClientContext>,
    /// Where the admin client's futures are awaited.
    async_rt: tokio::runtime::Handle,
    counts: Mutex<HashMap<String, u32>>,
}

impl Topics {
    pub fn new(admin_config: &ClientConfig, async_rt: tokio::runtime::Handle) -> Result<Self> {
        let admin: AdminClient<DefaultClientContext> = admin_config
            .create()
            .context("cannot create the Kafka admin client")?;
        super::oauth::give_token(admin_config, admin.inner())?;
        Ok(Self {
            admin,
            async_rt,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the topics of `specs` that are missing and learns the
    /// partition counts of those not seen before. Must not be called on an
    /// async runtime thread.
    pub fn ensure(&self, specs: &[TopicSpec]) -> Result<()> {
        let unknown: Vec<TopicSpec> = {
            let counts = self.counts();
            specs
                .iter()
                .filter(|t| !counts.contains_key(&t.name))
                .cloned()
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        self.async_rt
            .block_on(create_missing(&self.admin, &unknown))?;
        for t in &unknown {
            let n = partition_count(self.admin.inner(), &t.name, Duration::from_secs(30))?;
            self.counts().insert(t.name.clone(), n);
        }
        Ok(())
    }

    /// Adds partitions to `topic` until it has at least `partitions`
    /// (never removes any: Kafka cannot). Returns the count it has now.
    pub fn grow(&self, topic: &str, partitions: u32) -> Result<u32> {
        let have = partition_count(self.admin.inner(), topic, Duration::from_secs(30))?;
        if have >= partitions {
            self.counts().insert(topic.to_string(), have);
            return Ok(have);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let wanted = NewPartitions::new(topic, partitions as usize);
        let results = self
            .async_rt
            .block_on(self.admin.create_partitions([&wanted], &options))
            .with_context(|| format!("cannot add partitions to topic `{topic}`"))?;
        for result in results {
            match result {
                // Another host grew it first.
                Ok(_) | Err((_, RDKafkaErrorCode::InvalidPartitions)) => {}
                Err((name, code)) => bail!("cannot add partitions to topic `{name}`: {code}"),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n = partition_count(self.admin.inner(), topic, Duration::from_secs(30))?;
            if n >= partitions || Instant::now() >= deadline {
                self.counts().insert(topic.to_string(), n);
                return Ok(n);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The partition count of a topic [`Topics::ensure`] has seen.
    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        self.counts()
            .get(topic)
            .copied()
            .with_context(|| format!("topic `{topic}` has no known partition count"))
    }
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
async fn create_missing(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[TopicSpec],
) -> Result<()> {
    // Only missing topics are created: an existing topic keeps its settings,
    // and clusters that refuse CreateTopics still work with existing topics.
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(30))
        .context("cannot read the cluster's metadata")?;
    let existing: Vec<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name())
        .collect();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .filter(|t| !existing.contains(&t.name.as_str()))
        .map(|t| {
            t.config.iter().fold(
                NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(i32::from(t.replication)),
                ),
                |nt, (k, v)| nt.set(k, v),
            )
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .context("cannot create topics")?;
    for result in results {
        match result {
            Ok(name) => tracing::info!("created topic `{name}`"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic `{name}`: {code}"),
        }
    }
    Ok(())
}

/// The partition count of `topic`, waiting (bounded) for fresh topics to
/// appear in metadata with a leader for every partition.
fn partition_count<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    wait: Duration,
) -> Result<u32> {
    let deadline = Instant::now() + wait;
    loop {
        let outcome = client.fetch_metadata(Some(topic), Duration::from_secs(5));
        let ready = match &outcome {
            Ok(md) => md
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .and_then(|t| {
                    let ok = t.error().is_none()
                        && !t.partitions().is_empty()
                        && t.partitions().iter().all(|p| p.leader() >= 0);
                    ok.then(|| t.partitions().len() as u32)
                }),
            Err(_) => None,
        };
        if let Some(n) = ready {
            return Ok(n);
        }
        if Instant::now() >= deadline {
            let why = match outcome {
                Err(e) => e.to_string(),
                Ok(_) => "it has no partitions with a leader".into(),
            };
            bail!("topic `{topic}` is not available: {why}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
