//! The group's rebalances, turned into the supervisor's operations.
//!
//! Cooperative rebalancing: librdkafka hands over only the partitions that
//! move, so sources that stay keep running. A revoked source is drained
//! *before* its partition is released (its records in flight delivered,
//! its checkpoint committed), so that its next owner resumes exactly where
//! it stopped; a newly assigned one starts from that checkpoint.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::topic_partition_list::TopicPartitionList;

use super::map::SourceMap;
use crate::supervisor::Supervisor;

pub struct Rebalancer {
    /// Also counts the rebalances and remembers the sources assigned.
    supervisor: Arc<Supervisor>,
    /// The partitions this host owns now.
    owned: Mutex<BTreeSet<i32>>,
}

impl Rebalancer {
    pub fn new(supervisor: Arc<Supervisor>) -> Self {
        Self {
            supervisor,
            owned: Mutex::new(BTreeSet::new()),
        }
    }

    fn owned(&self) -> MutexGuard<'_, BTreeSet<i32>> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn owns_nothing(&self) -> bool {
        self.owned().is_empty()
    }

    /// Runs the sources the owned partitions stand for under the config
    /// the supervisor has now (called again after a reload reorders them).
    pub fn apply(&self) {
        let map = SourceMap::of(&self.supervisor.config());
        let names = map.sources(self.owned().iter());
        if let Err(e) = self.supervisor.set_assigned(names) {
            tracing::error!("cannot start the sources assigned to this host: {e:#}");
        }
    }

    fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements().iter().map(|e| e.partition()).collect()
    }
}

impl ClientContext for Rebalancer {}

impl ConsumerContext for Rebalancer {
    /// Before librdkafka releases revoked partitions: drain their sources.
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.supervisor.rebalanced();
            let revoked = Self::partitions(tpl);
            self.owned().retain(|p| !revoked.contains(p));
            self.apply();
        }
    }

    /// After librdkafka took newly assigned partitions: start their sources.
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.supervisor.rebalanced();
                self.owned().extend(Self::partitions(tpl));
                self.apply();
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::error!("cluster rebalance failed: {e}"),
        }
    }
}
