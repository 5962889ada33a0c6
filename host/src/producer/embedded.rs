//! The embedded cluster: librdkafka's in-process mock broker, so a config
//! without `brokers` runs with nothing else installed. Not durable, and it
//! keeps only the newest records of each partition: for demos only.

use anyhow::{Context, Result};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::topics::TopicSpec;

pub struct EmbeddedCluster {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedCluster {
    /// Starts the cluster and creates `topics` on it (the mock broker has no
    /// CreateTopics API, so the admin path cannot be used).
    pub fn start(topics: &[TopicSpec]) -> Result<Self> {
        let cluster = MockCluster::new(1).context("cannot start the embedded Kafka cluster")?;
        for t in topics {
            cluster
                .create_topic(&t.name, t.partitions, 1)
                .with_context(|| {
                    format!("cannot create topic `{}` on the embedded cluster", t.name)
                })?;
        }
        Ok(Self { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
