//! Which partition of the group's sources topic stands for which source.
//!
//! The sources of the config, sorted by name: the i-th one is partition i.
//! Every host with the same config computes the same map, which is why the
//! hosts of a group must run the same config (see `digest`). Adding or
//! removing a source reorders the names after it, so a reload may move
//! those sources to other hosts; the partition count only ever grows
//! (Kafka cannot shrink a topic), and partitions past the last source stand
//! for nothing.

use std::collections::BTreeSet;

use crate::config::Config;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMap {
    names: Vec<String>,
}

impl SourceMap {
    pub fn of(config: &Config) -> Self {
        let mut names: Vec<String> = config
            .sources
            .iter()
            .map(|s| s.name.get_ref().clone())
            .collect();
        names.sort();
        Self { names }
    }

    /// How many partitions the sources topic needs.
    pub fn partitions(&self) -> u32 {
        self.names.len().max(1) as u32
    }

    pub fn source(&self, partition: i32) -> Option<&str> {
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.names.get(i))
            .map(String::as_str)
    }

    pub fn partition(&self, source: &str) -> Option<i32> {
        self.names
            .iter()
            .position(|n| n == source)
            .and_then(|i| i32::try_from(i).ok())
    }

    /// The sources that `partitions` stand for.
    pub fn sources<'a>(&self, partitions: impl IntoIterator<Item = &'a i32>) -> BTreeSet<String> {
        partitions
            .into_iter()
            .filter_map(|p| self.source(*p))
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(names: &[&str]) -> SourceMap {
        let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        names.sort();
        SourceMap { names }
    }

    #[test]
    fn partitions_follow_name_order_whatever_the_config_order() {
        let m = map(&["orders", "clicks", "metrics"]);
        assert_eq!(m.partition("clicks"), Some(0));
        assert_eq!(m.partition("metrics"), Some(1));
        assert_eq!(m.partition("orders"), Some(2));
        assert_eq!(m.source(3), None);
        assert_eq!(m.source(-1), None);
        assert_eq!(m.partitions(), 3);
        let owned = [2, 0, 7];
        assert_eq!(
            m.sources(&owned).into_iter().collect::<Vec<_>>(),
            ["clicks", "orders"]
        );
    }

    #[test]
    fn an_empty_config_still_has_one_partition() {
        assert_eq!(map(&[]).partitions(), 1);
    }
}
