//! `__NAME__`: a streamplug partitioner. This example places records by a
//! hash of their key (the same key always goes to the same partition), and
//! records without a key round-robin.

use streamplug_sdk::{Config, Partitioner, RecordRef};

pub struct __TYPE__ {
    /// The next partition for a record without a key.
    next: u32,
}

impl Partitioner for __TYPE__ {
    /// Called once per instance with the plugin's `config` table. An error
    /// here (a missing or malformed setting) stops the plugin with that message.
    fn init(config: Config) -> Result<Self, String> {
        // This example takes no settings: any key is a typo.
        config.deny_unknown(&[])?;
        Ok(Self { next: 0 })
    }

    /// The partition of `record`, below `partition_count` (the host counts
    /// a record placed outside as failed). A record that names its own
    /// partition keeps it: the host does not ask about it.
    fn partition(
        &mut self,
        _topic: &str,
        partition_count: u32,
        record: &RecordRef<'_>,
    ) -> Result<u32, String> {
        if partition_count == 0 {
            return Err("a topic without partitions".into());
        }
        Ok(match record.key {
            Some(key) => (fnv1a(key) % u64::from(partition_count)) as u32,
            None => {
                let p = self.next % partition_count;
                self.next = self.next.wrapping_add(1);
                p
            }
        })
    }
}

/// 64-bit FNV-1a: a stable hash, the same in every build and every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

streamplug_sdk::export_partitioner!(__TYPE__);

#[cfg(test)]
mod tests;
