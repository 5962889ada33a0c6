//! Hosts that share the sources of one config through Kafka's consumer
//! group protocol: the cluster is Kafka itself, not a coordinator of ours.
//!
//! - [`map`]: partition i of the group's sources topic stands for the i-th
//!   source by name; a host runs the sources of the partitions it owns.
//! - [`rebalance`]: revoke → drain and commit, then release; assign → start
//!   from the committed checkpoint (cooperative-sticky: the others never pause).
//! - [`digest`], [`roster`]: hosts announce their config's digest; a host
//!   whose config or plugins differ from a live member's refuses to start,
//!   and after a reload the hosts still on the older config step aside
//!   until they are reloaded too.
//! - [`status`]: `streamplug cluster status`.

pub mod digest;
pub mod generation;
pub mod map;
pub mod rebalance;
pub mod roster;
pub mod status;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::config::ClusterConfig;
use crate::producer::oauth::give_token;
use crate::producer::settings::ClientSettings;
use crate::producer::topics::TopicSpec;
use crate::stats::ClusterSummary;
use crate::supervisor::Supervisor;
use digest::ConfigDigest;
use map::SourceMap;
use rebalance::Rebalancer;
use roster::{Announcement, Roster};

/// How often a host compares itself with the group and re-announces.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// A host still stepped aside for a newer config after this long warns: a
/// rollout that reloads every host takes seconds, not minutes.
const STILL_ASIDE_WARNING: Duration = Duration::from_secs(60);

/// A host in the group: its membership runs on its own thread.
pub struct Member {
    leave: Arc<AtomicBool>,
    thread: JoinHandle<ClusterSummary>,
}

impl Member {
    /// Joins the group `cluster` names with the supervisor's config.
    /// Refuses (before taking any source) when this host's config or
    /// plugins differ from a live member's, or its host id is taken.
    pub fn join(
        cluster: &ClusterConfig,
        supervisor: Arc<Supervisor>,
        client: &ClientSettings,
    ) -> Result<Self> {
        let topics = supervisor.topics();
        let host = cluster.host_id();
        let group = cluster.group.clone();
        let config = supervisor.config();
        let sources_topic = roster::sources_topic(&group);
        topics.ensure(&[
            TopicSpec {
                name: sources_topic.clone(),
                partitions: SourceMap::of(&config).partitions() as i32,
                replication: 1,
                config: Default::default(),
            },
            roster::hosts_topic_spec(&group),
        ])?;
        topics.grow(&sources_topic, SourceMap::of(&config).partitions())?;

        let connection = client.connection();
        let mut roster = Roster::open(&group, &connection)?;
        let digest = ConfigDigest::of(&config, &supervisor.plugin_hashes());
        let consumer = group_consumer(cluster, &host, &connection, supervisor.clone())?;
        for (other, announced) in roster.live(&consumer)? {
            if other == host {
                bail!(
                    "[cluster]: host id `{host}` is already a live member of group `{group}`; give each host its own `host_id`"
                );
            }
            if let Some(why) = announced.and_then(|a| digest.difference(&a.digest)) {
                bail!(
                    "[cluster]: this host's config differs from the one host `{other}` of group `{group}` runs: {why}. It takes no sources: run the same config and plugin files on every host (a reload on every host changes them together)"
                );
            }
        }
        supervisor.join_cluster(&group, &host)?;
        let mut driver = Driver {
            host: host.clone(),
            group: group.clone(),
            sources_topic,
            supervisor,
            consumer,
            roster,
            topics_grow: None,
            digest,
            since_ms: now_ms(),
            stepped_aside: false,
            aside_since: None,
            announced: None,
        };
        driver.subscribe()?;
        driver.announce();
        tracing::info!(
            "joined cluster group `{group}` as host `{host}` (config {})",
            driver.digest.short()
        );
        let leave = Arc::new(AtomicBool::new(false));
        let flag = leave.clone();
        let thread = std::thread::Builder::new()
            .name("cluster".into())
            .spawn(move || driver.run(&flag))
            .context("cannot start the cluster thread")?;
        Ok(Self { leave, thread })
    }

    /// Leaves the group: every source this host runs is drained and its
    /// checkpoint committed before its partition is released.
    pub fn leave(self) -> ClusterSummary {
        self.leave.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_else(|_| {
            tracing::error!("the cluster thread panicked");
            ClusterSummary::default()
        })
    }
}

fn group_consumer(
    cluster: &ClusterConfig,
    host: &str,
    connection: &ClientConfig,
    supervisor: Arc<Supervisor>,
) -> Result<BaseConsumer<Rebalancer>> {
    let session = cluster.session_timeout_ms;
    let consumer: BaseConsumer<Rebalancer> = connection
        .clone()
        .set("group.id", &cluster.group)
        // The broker lists members by client id: that is how hosts know
        // which announcements are live.
        .set("client.id", host)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 5).max(100).to_string())
        // A revoke drains sources inside the rebalance callback: that must
        // not count as a stalled consumer.
        .set(
            "max.poll.interval.ms",
            (session * 3).max(300_000).to_string(),
        )
        .set("enable.auto.commit", "false")
        // A grown sources topic is noticed (and its new partitions assigned)
        // within a few seconds.
        .set("topic.metadata.refresh.interval.ms", "2000")
        .create_with_context(Rebalancer::new(supervisor))
        .context("cannot create the cluster group member")?;
    give_token(connection, consumer.client())?;
    Ok(consumer)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Driver {
    host: String,
    group: String,
    sources_topic: String,
    supervisor: Arc<Supervisor>,
    consumer: BaseConsumer<Rebalancer>,
    roster: Roster,
    /// Set when a reload needs more partitions than the topic has.
    topics_grow: Option<u32>,
    digest: ConfigDigest,
    since_ms: u64,
    stepped_aside: bool,
    /// When this host stepped aside, until it has warned that it still is.
    aside_since: Option<Instant>,
    announced: Option<Announcement>,
}

impl Driver {
    fn run(mut self, leave: &AtomicBool) -> ClusterSummary {
        let mut next_check = Instant::now() + CHECK_EVERY;
        while !leave.load(Ordering::Relaxed) {
            // Serves the group protocol; rebalances run in here.
            if let Some(Err(e)) = self.consumer.poll(Duration::from_millis(100)) {
                tracing::debug!("cluster group: {e}");
            }
            if Instant::now() >= next_check {
                next_check = Instant::now() + CHECK_EVERY;
                if let Err(e) = self.check() {
                    tracing::warn!("cluster check: {e:#}");
                }
            }
        }
        self.leave_group();
        self.supervisor
            .cluster()
            .map(ClusterSummary::from)
            .unwrap_or_default()
    }

    fn subscribe(&self) -> Result<()> {
        self.consumer
            .subscribe(&[&self.sources_topic])
            .with_context(|| format!("cannot join cluster group `{}`", self.group))
    }

    /// Follows a reload of this host's config, steps aside for a newer
    /// config elsewhere in the group (or comes back), and re-announces.
    fn check(&mut self) -> Result<()> {
        let digest = ConfigDigest::of(&self.supervisor.config(), &self.supervisor.plugin_hashes());
        if digest != self.digest {
            tracing::info!(
                "cluster: this host's config changed ({} → {}); the sources it owns follow",
                self.digest.short(),
                digest.short()
            );
            self.digest = digest;
            self.since_ms = now_ms();
            self.topics_grow = Some(SourceMap::of(&self.supervisor.config()).partitions());
            self.consumer.context().apply();
        }
        if let Some(n) = self.topics_grow {
            self.grow(n)?;
            self.topics_grow = None;
        }
        let newer = self
            .roster
            .live(&self.consumer)?
            .into_iter()
            .filter_map(|(h, a)| a.filter(|_| h != self.host))
            .filter(|a| a.digest_since_ms > self.since_ms)
            .find_map(|a| self.digest.difference(&a.digest).map(|why| (a.host, why)));
        match (newer, self.stepped_aside) {
            (Some((other, why)), false) => {
                // Part of every rollout of a new config: only worth a
                // warning if it lasts (see below).
                tracing::info!(
                    "cluster: host `{other}` runs a newer config ({why}); this host takes no sources until its own config matches (reload it)"
                );
                self.consumer.unsubscribe();
                self.stepped_aside = true;
                self.aside_since = Some(Instant::now());
            }
            (Some((other, why)), true)
                if self
                    .aside_since
                    .is_some_and(|t| t.elapsed() >= STILL_ASIDE_WARNING) =>
            {
                tracing::warn!(
                    "cluster: this host has taken no sources for {} s: host `{other}` runs a newer config ({why}); reload this host's config",
                    STILL_ASIDE_WARNING.as_secs()
                );
                self.aside_since = None;
            }
            (None, true) => {
                tracing::info!(
                    "cluster: this host's config matches the group's again; taking sources"
                );
                self.subscribe()?;
                self.stepped_aside = false;
                self.aside_since = None;
            }
            _ => {}
        }
        self.announce();
        Ok(())
    }

    fn grow(&self, partitions: u32) -> Result<()> {
        self.supervisor
            .topics()
            .grow(&self.sources_topic, partitions)?;
        Ok(())
    }

    /// Writes this host's announcement if it changed.
    fn announce(&mut self) {
        let a = Announcement {
            host: self.host.clone(),
            digest: self.digest.clone(),
            digest_since_ms: self.since_ms,
            sources: self.supervisor.running(),
            rebalances: self.supervisor.cluster().map_or(0, |c| c.rebalances),
            generation: generation::of(&self.consumer),
            stepped_aside: self.stepped_aside,
        };
        if self.announced.as_ref() == Some(&a) {
            return;
        }
        match self.roster.announce(&a) {
            Ok(()) => self.announced = Some(a),
            Err(e) => tracing::warn!("cluster: {e:#}"),
        }
    }

    fn leave_group(&mut self) {
        self.consumer.unsubscribe();
        // The revoke runs in a poll: drain every source, then release.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.consumer.context().owns_nothing() && Instant::now() < deadline {
            let _ = self.consumer.poll(Duration::from_millis(100));
        }
        if let Err(e) = self.supervisor.set_assigned(BTreeSet::new()) {
            tracing::error!("cannot stop this host's sources: {e:#}");
        }
        if let Err(e) = self.roster.withdraw(&self.host) {
            tracing::warn!("cluster: {e:#}");
        }
        tracing::info!("left cluster group `{}`", self.group);
    }
}
