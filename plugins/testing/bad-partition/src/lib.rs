//! Breaks the partitioner contract: returns `partition_count + 5` for every
//! record, a partition that does not exist, which the host must refuse.

use streamplug_sdk::{Config, Partitioner, RecordRef};

struct BadPartition;

impl Partitioner for BadPartition {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(BadPartition)
    }

    fn partition(
        &mut self,
        _topic: &str,
        partition_count: u32,
        _record: &RecordRef<'_>,
    ) -> Result<u32, String> {
        Ok(partition_count.saturating_add(5))
    }
}

streamplug_sdk::export_partitioner!(BadPartition);
