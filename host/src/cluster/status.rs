//! `streamplug cluster status`: the group's members as the broker sees
//! them (with the partitions it assigned each), what each host announces
//! (its config, the sources it runs), and sources that run nowhere.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use super::map::SourceMap;
use super::roster::{self, Roster};
use crate::Config;
use crate::producer::oauth::give_token;
use crate::producer::settings::ClientSettings;

#[derive(Debug, Serialize)]
pub struct Status {
    pub group: String,
    /// The group's state at the broker (`Stable`, `PreparingRebalance`, …).
    pub state: String,
    pub protocol: String,
    /// The newest generation a live host reports: the broker bumps it at
    /// every completed rebalance.
    pub generation: Option<i32>,
    pub members: Vec<MemberStatus>,
    /// Sources of the config that no live host runs.
    pub not_running: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MemberStatus {
    pub host: String,
    /// The short digest of the config it runs (empty until it announces).
    pub config: String,
    pub stepped_aside: bool,
    /// Sources the host says it runs.
    pub sources: Vec<String>,
    /// Sources the broker assigned it (by this config's map).
    pub assigned: Vec<String>,
    pub rebalances: u64,
    /// The group generation this host's member is in.
    pub generation: Option<i32>,
}

/// Reads the group of `config`'s `[cluster]` table.
pub fn read(config: &Config) -> Result<Status> {
    let cluster = config
        .cluster
        .as_ref()
        .context("the config has no [cluster] table")?;
    let brokers = config
        .kafka
        .brokers
        .as_deref()
        .context("[cluster] needs [kafka] brokers")?;
    let connection = ClientSettings::new(&config.kafka, brokers).connection();
    let client: BaseConsumer = connection
        .create()
        .context("cannot create a Kafka client")?;
    give_token(&connection, client.client())?;
    let list = client
        .fetch_group_list(Some(&cluster.group), Duration::from_secs(10))
        .with_context(|| format!("cannot describe group `{}`", cluster.group))?;
    let Some(group) = list.groups().iter().find(|g| g.name() == cluster.group) else {
        bail!("the broker does not know group `{}`", cluster.group);
    };
    let mut roster = Roster::open(&cluster.group, &connection)?;
    let announced = roster.all()?;
    let map = SourceMap::of(config);
    let topic = roster::sources_topic(&cluster.group);
    let mut running = BTreeSet::new();
    let mut members: Vec<MemberStatus> = group
        .members()
        .iter()
        .map(|m| {
            let host = m.client_id().to_string();
            let partitions = m
                .assignment()
                .map(|a| assigned_partitions(a, &topic))
                .unwrap_or_default();
            let a = announced.get(&host);
            let sources: Vec<String> = a
                .map(|a| a.sources.iter().cloned().collect())
                .unwrap_or_default();
            running.extend(sources.iter().cloned());
            MemberStatus {
                config: a.map(|a| a.digest.short().to_string()).unwrap_or_default(),
                stepped_aside: a.is_some_and(|a| a.stepped_aside),
                rebalances: a.map_or(0, |a| a.rebalances),
                generation: a.and_then(|a| a.generation),
                assigned: map.sources(partitions.iter()).into_iter().collect(),
                sources,
                host,
            }
        })
        .collect();
    members.sort_by(|a, b| a.host.cmp(&b.host));
    let not_running = config
        .sources
        .iter()
        .map(|s| s.name.get_ref().clone())
        .filter(|n| !running.contains(n))
        .collect();
    Ok(Status {
        group: cluster.group.clone(),
        state: group.state().to_string(),
        protocol: group.protocol().to_string(),
        generation: members.iter().filter_map(|m| m.generation).max(),
        members,
        not_running,
    })
}

impl Status {
    /// A table for people.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "group `{}`: {} ({}), generation {}, {} live host(s)",
            self.group,
            self.state,
            if self.protocol.is_empty() {
                "no protocol yet"
            } else {
                &self.protocol
            },
            generation(self.generation),
            self.members.len()
        );
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>10} {:>10}  sources",
            "host", "config", "generation", "rebalances"
        );
        for m in &self.members {
            let aside = if m.stepped_aside {
                " (stepped aside: config differs)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{:<24} {:<12} {:>10} {:>10}  {}{aside}",
                m.host,
                m.config,
                generation(m.generation),
                m.rebalances,
                m.sources.join(", ")
            );
        }
        if !self.not_running.is_empty() {
            let _ = writeln!(
                out,
                "not running on any host: {}",
                self.not_running.join(", ")
            );
        }
        out
    }
}

fn generation(g: Option<i32>) -> String {
    g.map_or_else(|| "-".to_string(), |g| g.to_string())
}

/// The partitions of `topic` in a consumer-protocol assignment (versions
/// 0–3 share this layout: version, [topic, [partition]], user data).
fn assigned_partitions(bytes: &[u8], topic: &str) -> Vec<i32> {
    let mut r = Reader(bytes);
    let mut out = Vec::new();
    let parse = |r: &mut Reader<'_>, out: &mut Vec<i32>| -> Option<()> {
        r.i16()?;
        for _ in 0..r.i32()? {
            let len = usize::try_from(r.i16()?).ok()?;
            let name = r.take(len)?;
            for _ in 0..r.i32()? {
                let p = r.i32()?;
                if name == topic.as_bytes() {
                    out.push(p);
                }
            }
        }
        Some(())
    };
    let _ = parse(&mut r, &mut out);
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assignment_is_read_for_the_sources_topic_only() {
        let mut b = Vec::new();
        b.extend(1i16.to_be_bytes());
        b.extend(2i32.to_be_bytes());
        for (topic, parts) in [
            ("other", &[9i32][..]),
            ("streamplug.cluster.g", &[0, 3][..]),
        ] {
            b.extend((topic.len() as i16).to_be_bytes());
            b.extend(topic.as_bytes());
            b.extend((parts.len() as i32).to_be_bytes());
            for p in parts {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes());
        assert_eq!(assigned_partitions(&b, "streamplug.cluster.g"), [0, 3]);
        assert_eq!(
            assigned_partitions(&b[..7], "streamplug.cluster.g"),
            Vec::<i32>::new()
        );
    }
}
