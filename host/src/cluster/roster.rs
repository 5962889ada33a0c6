//! Who is in the group and what each host runs: a compacted topic where
//! every host announces itself (its config digest, the sources it runs),
//! read together with the group's live members from the broker. A host
//! that left removes its announcement; a crashed host's stays, but is
//! ignored once the broker no longer lists it as a member.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::digest::ConfigDigest;
use crate::producer::oauth::give_token;
use crate::producer::topics::TopicSpec;

/// What a host says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    pub host: String,
    pub digest: ConfigDigest,
    /// When this host's config took its current form (ms since the epoch):
    /// of two live hosts that differ, the newer config wins.
    pub digest_since_ms: u64,
    /// The sources it runs now.
    pub sources: BTreeSet<String>,
    /// Rebalances this host has taken part in.
    pub rebalances: u64,
    /// The group generation of its member (none before it joined, and from
    /// hosts of a version that did not announce it).
    #[serde(default)]
    pub generation: Option<i32>,
    /// It takes no sources until its config matches the group's.
    pub stepped_aside: bool,
}

/// The group's topics, named after the group.
pub fn sources_topic(group: &str) -> String {
    format!("streamplug.cluster.{group}")
}

pub fn hosts_topic(group: &str) -> String {
    format!("streamplug.cluster.{group}.hosts")
}

pub fn hosts_topic_spec(group: &str) -> TopicSpec {
    TopicSpec {
        name: hosts_topic(group),
        partitions: 1,
        replication: 1,
        config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
    }
}

pub struct Roster {
    group: String,
    topic: String,
    reader: BaseConsumer,
    writer: BaseProducer,
    /// The last announcement of every host seen in the topic.
    seen: BTreeMap<String, Announcement>,
    /// The offset after the last announcement read.
    next: i64,
}

impl Roster {
    /// `client`: connection settings only (see `settings::admin_config`).
    pub fn open(group: &str, client: &ClientConfig) -> Result<Self> {
        let topic = hosts_topic(group);
        let reader: BaseConsumer = client
            .clone()
            .set("group.id", format!("streamplug.cluster.{group}.reader"))
            .set("enable.auto.commit", "false")
            .create()
            .context("cannot create the cluster roster reader")?;
        give_token(client, reader.client())?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)?;
        reader.assign(&tpl)?;
        let writer: BaseProducer = client
            .clone()
            .set("acks", "all")
            .set("linger.ms", "0")
            .create()
            .context("cannot create the cluster roster writer")?;
        give_token(client, writer.client())?;
        let mut roster = Self {
            group: group.to_string(),
            topic,
            reader,
            writer,
            seen: BTreeMap::new(),
            next: 0,
        };
        roster.catch_up(Duration::from_secs(30))?;
        Ok(roster)
    }

    /// Reads the announcements written since the last call, up to the end
    /// of the topic as it is now, for at most `wait`.
    fn catch_up(&mut self, wait: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + wait;
        // A topic just created may not have its leader known yet: retry.
        let end = loop {
            match self.reader.fetch_watermarks(&self.topic, 0, wait) {
                Ok((_, end)) => break end,
                Err(e) if std::time::Instant::now() >= deadline => {
                    return Err(e).with_context(|| {
                        format!("cannot read the end of the cluster topic `{}`", self.topic)
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        while self.next < end {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                bail!("timed out reading the cluster topic `{}`", self.topic);
            }
            let Some(m) = self.reader.poll(left.min(Duration::from_millis(200))) else {
                continue;
            };
            let m = m.with_context(|| format!("cannot read the cluster topic `{}`", self.topic))?;
            self.next = m.offset() + 1;
            let Some(host) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            match m.payload().map(serde_json::from_slice::<Announcement>) {
                None => {
                    self.seen.remove(host);
                }
                Some(Ok(a)) => {
                    self.seen.insert(host.to_string(), a);
                }
                // Another version's announcement: not comparable.
                Some(Err(e)) => tracing::warn!(
                    "cannot read host `{host}`'s announcement in `{}`: {e}",
                    self.topic
                ),
            }
        }
        Ok(())
    }

    /// The group's live members' announcements (a member that has not
    /// announced itself yet maps to `None`), by host id.
    pub fn live(
        &mut self,
        group_client: &BaseConsumer<impl rdkafka::consumer::ConsumerContext>,
    ) -> Result<BTreeMap<String, Option<Announcement>>> {
        self.catch_up(Duration::from_secs(10))?;
        let members = live_members(group_client, &self.group)?;
        Ok(members
            .into_iter()
            .map(|h| {
                let a = self.seen.get(&h).cloned();
                (h, a)
            })
            .collect())
    }

    /// Every announcement in the topic, live or not.
    pub fn all(&mut self) -> Result<&BTreeMap<String, Announcement>> {
        self.catch_up(Duration::from_secs(10))?;
        Ok(&self.seen)
    }

    pub fn announce(&self, a: &Announcement) -> Result<()> {
        let value = serde_json::to_vec(a).context("cannot encode the announcement")?;
        self.write(&a.host, Some(&value))
    }

    /// Removes `host`'s announcement: it left the group.
    pub fn withdraw(&self, host: &str) -> Result<()> {
        self.write(host, None)
    }

    fn write(&self, host: &str, value: Option<&[u8]>) -> Result<()> {
        let mut record = BaseRecord::<str, [u8]>::to(&self.topic).key(host);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.writer
            .send(record)
            .map_err(|(e, _)| anyhow!("cannot write to the cluster topic `{}`: {e}", self.topic))?;
        self.writer
            .flush(Duration::from_secs(10))
            .with_context(|| format!("the cluster topic `{}` did not acknowledge", self.topic))
    }
}

/// The client ids (= host ids) of the group's members, as the broker
/// sees them now.
pub fn live_members<C: rdkafka::consumer::ConsumerContext>(
    client: &BaseConsumer<C>,
    group: &str,
) -> Result<BTreeSet<String>> {
    let list = client
        .fetch_group_list(Some(group), Duration::from_secs(10))
        .with_context(|| format!("cannot list the members of group `{group}`"))?;
    Ok(list
        .groups()
        .iter()
        .filter(|g| g.name() == group)
        .flat_map(|g| g.members())
        .map(|m| m.client_id().to_string())
        .collect())
}
