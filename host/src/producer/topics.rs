//! Topics: created if missing with the configured partitions, replication
//! and topic configs; then their partition counts, which partitioners need.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

/// A topic the run produces to, and how to create it if it is missing.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication: i16,
    pub config: BTreeMap<String, String>,
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure(admin_config: &ClientConfig, topics: &[TopicSpec]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = admin_config
        .create()
        .context("cannot create the Kafka admin client")?;
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
pub fn partition_count<C: ClientContext>(
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
