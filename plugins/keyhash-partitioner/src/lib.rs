//! `keyhash-partitioner`: places records as the Java client's default
//! partitioner does for keyed records, so that streamplug and Java producers
//! agree on where a key goes:
//!
//! - keyed records (an empty key counts as a key): `(murmur2(key) & 0x7fffffff) % partition_count`,
//!   with Kafka's murmur2 (seed `0x9747b28c`), see [`murmur2`];
//! - records without a key: round-robin over the partitions, one counter per topic,
//!   starting at partition 0 in each new instance.
//!
//! No config (unknown keys are an error).

pub mod murmur2;

use std::collections::HashMap;

use streamplug_sdk::{Config, Partitioner, RecordRef};

pub use murmur2::partition_for_key;

#[derive(Default)]
pub struct KeyHash {
    /// Next round-robin position for keyless records, per topic.
    next: HashMap<String, u32>,
}

impl KeyHash {
    fn round_robin(&mut self, topic: &str, partition_count: u32) -> u32 {
        let next = match self.next.get_mut(topic) {
            Some(next) => next,
            None => self.next.entry(topic.to_owned()).or_insert(0),
        };
        let p = *next % partition_count;
        *next = next.wrapping_add(1);
        p
    }
}

impl Partitioner for KeyHash {
    fn init(config: Config) -> Result<Self, String> {
        config.deny_unknown(&[])?;
        Ok(KeyHash::default())
    }

    fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        record: &RecordRef<'_>,
    ) -> Result<u32, String> {
        if partition_count == 0 {
            return Err(format!("topic `{topic}` has no partitions"));
        }
        Ok(match record.key {
            Some(key) => partition_for_key(key, partition_count),
            None => self.round_robin(topic, partition_count),
        })
    }
}

streamplug_sdk::export_partitioner!(KeyHash);

#[cfg(test)]
mod tests {
    use super::*;
    use streamplug_sdk::BatchWriter;
    use streamplug_sdk::codec::BatchReader;

    #[test]
    fn keyed_by_murmur2_keyless_round_robin_per_topic() {
        let mut w = BatchWriter::new();
        w.record().key(b"foobar").finish();
        w.record().value(b"no key").finish();
        w.record().value(b"no key").finish();
        w.record().key(b"").finish();
        w.record().finish();
        let batch = w.finish();
        let mut p = KeyHash::init(Config::default()).unwrap();
        let mut run = |topic: &str, n: u32| -> Vec<u32> {
            BatchReader::new(&batch)
                .unwrap()
                .map(|r| p.partition(topic, n, &r.unwrap()).unwrap())
                .collect()
        };
        let empty = partition_for_key(b"", 50);
        assert_eq!(run("a", 50), [16, 0, 1, empty, 2]);
        assert_eq!(run("a", 50), [16, 3, 4, empty, 5]);
        assert_eq!(run("b", 50), [16, 0, 1, empty, 2]);
        assert_eq!(run("a", 2), [0, 0, 1, empty % 2, 0]);
    }

    #[test]
    fn errors() {
        let mut p = KeyHash::init(Config::default()).unwrap();
        let mut w = BatchWriter::new();
        w.record().key(b"k").finish();
        let batch = w.finish();
        let r = BatchReader::new(&batch).unwrap().next().unwrap().unwrap();
        assert!(
            p.partition("t", 0, &r)
                .unwrap_err()
                .contains("no partitions")
        );
        let cfg: Config = [("seed", "1")].into_iter().collect();
        assert!(KeyHash::init(cfg).is_err());
    }
}
