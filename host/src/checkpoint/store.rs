//! Where committed checkpoints are kept, behind one small trait: a compacted
//! Kafka topic (the default: the state lives in the cluster, so a source can
//! move to another host) or one file per source (for edge nodes), written
//! atomically. Both store the same framed value, so damage is detected
//! rather than resumed from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::Message;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use crate::config::{CheckpointConfig, Missing, StoreKind};
use crate::producer::topics::{TopicSpec, Topics};

pub trait CheckpointStore: Send + Sync {
    /// Every source's committed checkpoint.
    fn load_all(&self) -> Result<HashMap<String, Vec<u8>>>;
    /// Stores `source`'s checkpoint durably before returning.
    fn commit(&self, source: &str, checkpoint: &[u8]) -> Result<()>;
    /// Where the store is, for messages.
    fn describe(&self) -> String;
}

const MAGIC: &[u8; 6] = b"SPCK1\n";

/// The stored form: magic, sha256 of the checkpoint, the checkpoint.
pub(crate) fn frame(checkpoint: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(MAGIC.len() + 32 + checkpoint.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&Sha256::digest(checkpoint));
    v.extend_from_slice(checkpoint);
    v
}

fn unframe(stored: &[u8]) -> Result<Vec<u8>, String> {
    let body = stored
        .strip_prefix(MAGIC.as_slice())
        .ok_or("it does not start with a streamplug checkpoint header")?;
    if body.len() < 32 {
        return Err(format!("it is truncated ({} bytes)", stored.len()));
    }
    let (hash, checkpoint) = body.split_at(32);
    if Sha256::digest(checkpoint).as_slice() != hash {
        return Err("its checksum does not match its content".into());
    }
    Ok(checkpoint.to_vec())
}

/// Opens the store a config asks for; `bootstrap` is the cluster's.
pub fn open_store(
    config: &CheckpointConfig,
    client: &ClientConfig,
    topics: &Topics,
) -> Result<Box<dyn CheckpointStore>> {
    match config.store {
        StoreKind::File => {
            let dir = config
                .dir
                .clone()
                .context("[checkpoints]: `store = \"file\"` needs `dir`")?;
            Ok(Box::new(FileStore::open(dir, config.missing)?))
        }
        StoreKind::Kafka => Ok(Box::new(KafkaStore::open(
            &config.topic,
            client,
            config.missing,
            topics,
        )?)),
    }
}

pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn open(dir: PathBuf, missing: Missing) -> Result<Self> {
        if !dir.is_dir() {
            match missing {
                Missing::Create => std::fs::create_dir_all(&dir).with_context(|| {
                    format!("cannot create the checkpoint directory {}", dir.display())
                })?,
                Missing::Fail => bail!(
                    "the checkpoint directory {} does not exist (checkpoints.missing = \"fail\")",
                    dir.display()
                ),
            }
        }
        Ok(Self { dir })
    }

    fn path(&self, source: &str) -> PathBuf {
        self.dir.join(format!("{source}.checkpoint"))
    }
}

impl CheckpointStore for FileStore {
    fn load_all(&self) -> Result<HashMap<String, Vec<u8>>> {
        let mut out = HashMap::new();
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list {}", self.dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let Some(source) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".checkpoint"))
            else {
                continue;
            };
            let stored =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let checkpoint = unframe(&stored)
                .map_err(|why| anyhow!("checkpoint file {} is damaged: {why}", path.display()))?;
            out.insert(source.to_string(), checkpoint);
        }
        Ok(out)
    }

    fn commit(&self, source: &str, checkpoint: &[u8]) -> Result<()> {
        let path = self.path(source);
        let tmp = path.with_extension("checkpoint.tmp");
        write_synced(&tmp, &frame(checkpoint))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
        // The rename itself is durable only once the directory is synced.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", self.dir.display()))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

pub struct KafkaStore {
    topic: String,
    consumer_config: ClientConfig,
    producer: BaseProducer,
}

impl KafkaStore {
    pub fn open(
        topic: &str,
        client: &ClientConfig,
        missing: Missing,
        topics: &Topics,
    ) -> Result<Self> {
        let admin = crate::producer::settings::admin_config(client);
        let probe: BaseConsumer = admin.create().context("cannot create a Kafka client")?;
        let exists = probe
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .ok()
            .and_then(|m| {
                m.topics()
                    .first()
                    .map(|t| t.error().is_none() && !t.partitions().is_empty())
            })
            .unwrap_or(false);
        if !exists {
            if missing == Missing::Fail {
                bail!(
                    "the checkpoint topic `{topic}` does not exist (checkpoints.missing = \"fail\")"
                );
            }
            let spec = TopicSpec {
                name: topic.to_string(),
                partitions: 1,
                replication: 1,
                config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
            };
            topics.ensure(&[spec])?;
        }
        let mut producer_config = admin.clone();
        producer_config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0");
        let producer = producer_config
            .create()
            .context("cannot create the checkpoint producer")?;
        Ok(Self {
            topic: topic.to_string(),
            consumer_config: admin,
            producer,
        })
    }
}

/// The checkpoint reader's context. The end of a partition is how the
/// reader knows it has read everything; an end that arrives once the reader
/// has stopped polling (it saw the last offset first) reaches librdkafka's
/// error callback instead, where the default context would log it as an
/// error on a run that went well.
struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if end {
            return;
        }
        tracing::error!("checkpoint reader: {error}: {reason}");
    }
}

impl ConsumerContext for ReaderContext {}

impl CheckpointStore for KafkaStore {
    fn load_all(&self) -> Result<HashMap<String, Vec<u8>>> {
        let consumer: BaseConsumer<ReaderContext> = self
            .consumer_config
            .clone()
            .set("group.id", "streamplug-checkpoint-reader")
            .set("enable.auto.commit", "false")
            // Exactly-once sources write their checkpoints in transactions:
            // an aborted one's checkpoint must never be resumed from. The
            // end of a partition is then its last stable offset, reported
            // as partition EOF (a commit marker is never delivered, so the
            // last offset cannot be waited for).
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create_with_context(ReaderContext)
            .context("cannot create the checkpoint reader")?;
        let md = consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(10))
            .context("cannot read the checkpoint topic's metadata")?;
        let mut ends = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for p in md.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) = consumer
                .fetch_watermarks(&self.topic, p.id(), Duration::from_secs(10))
                .context("cannot read the checkpoint topic's offsets")?;
            if high > low {
                ends.insert(p.id(), high);
                tpl.add_partition_offset(&self.topic, p.id(), Offset::Beginning)?;
            }
        }
        let mut out = HashMap::new();
        if ends.is_empty() {
            return Ok(out);
        }
        consumer.assign(&tpl)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !ends.is_empty() {
            if std::time::Instant::now() > deadline {
                bail!("timed out reading the checkpoint topic `{}`", self.topic);
            }
            let m = match consumer.poll(Duration::from_millis(500)) {
                None => continue,
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    ends.remove(&p);
                    continue;
                }
                Some(m) => m.context("cannot read the checkpoint topic")?,
            };
            if let Some(source) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                match m.payload() {
                    None => {
                        out.remove(source);
                    }
                    Some(v) => {
                        let checkpoint = unframe(v).map_err(|why| {
                            anyhow!(
                                "the checkpoint of `{source}` in topic `{}` (offset {}) is damaged: {why}",
                                self.topic,
                                m.offset()
                            )
                        })?;
                        out.insert(source.to_string(), checkpoint);
                    }
                }
            }
            if ends
                .get(&m.partition())
                .is_some_and(|end| m.offset() + 1 >= *end)
            {
                ends.remove(&m.partition());
            }
        }
        Ok(out)
    }

    fn commit(&self, source: &str, checkpoint: &[u8]) -> Result<()> {
        let value = frame(checkpoint);
        self.producer
            .send(BaseRecord::to(&self.topic).key(source).payload(&value))
            .map_err(|(e, _)| anyhow!("cannot commit the checkpoint of `{source}`: {e}"))?;
        self.producer
            .flush(Duration::from_secs(10))
            .with_context(|| format!("checkpoint of `{source}` not acknowledged"))
    }

    fn describe(&self) -> String {
        format!("Kafka topic `{}`", self.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_checkpoints_round_trip_and_damage_is_named() {
        assert_eq!(unframe(&frame(b"pos=42")).unwrap(), b"pos=42");
        let mut damaged = frame(b"pos=42");
        *damaged.last_mut().unwrap() = b'3';
        assert_eq!(
            unframe(&damaged).unwrap_err(),
            "its checksum does not match its content"
        );
        assert!(unframe(b"hello").unwrap_err().contains("header"));
    }

    #[test]
    fn the_file_store_keeps_the_last_commit_of_each_source() {
        let dir = std::env::temp_dir().join(format!("streamplug-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(FileStore::open(dir.clone(), Missing::Fail).is_err());
        let store = FileStore::open(dir.clone(), Missing::Create).unwrap();
        store.commit("a", b"1").unwrap();
        store.commit("a", b"2").unwrap();
        store.commit("b", b"x").unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all["a"], b"2");
        assert_eq!(all["b"], b"x");
        std::fs::write(dir.join("b.checkpoint"), b"SPCK1\nshort").unwrap();
        let e = store.load_all().unwrap_err().to_string();
        assert!(
            e.contains("b.checkpoint is damaged: it is truncated"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
