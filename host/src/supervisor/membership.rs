//! This host's part in a cluster as operators see it: the group, its host
//! id, the sources assigned to it now and every one it ran, and how many
//! rebalances it went through. Kept apart from the supervisor's state so
//! that reading it never waits for a drain.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Serialize;

use crate::stats::ClusterSummary;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterView {
    pub group: String,
    pub host_id: String,
    /// The sources the group assigns to this host now.
    pub assigned: BTreeSet<String>,
    /// Every source assigned to this host at some point.
    pub sources_run: BTreeSet<String>,
    pub rebalances: u64,
}

impl From<ClusterView> for ClusterSummary {
    fn from(v: ClusterView) -> Self {
        Self {
            group: v.group,
            host_id: v.host_id,
            sources_run: v.sources_run,
            rebalances: v.rebalances,
        }
    }
}

/// `None` outside a cluster.
#[derive(Default)]
pub(super) struct Membership(Mutex<Option<ClusterView>>);

impl Membership {
    pub fn join(&self, group: &str, host_id: &str) {
        *self.lock() = Some(ClusterView {
            group: group.to_string(),
            host_id: host_id.to_string(),
            ..ClusterView::default()
        });
    }

    pub fn assigned(&self, names: &BTreeSet<String>) {
        if let Some(v) = self.lock().as_mut() {
            v.assigned = names.clone();
            v.sources_run.extend(names.iter().cloned());
        }
    }

    pub fn rebalanced(&self) {
        if let Some(v) = self.lock().as_mut() {
            v.rebalances += 1;
        }
    }

    pub fn view(&self) -> Option<ClusterView> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ClusterView>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
