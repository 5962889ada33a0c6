//! What the hosts of a cluster compare: a hash of the config (without what
//! is each host's own) and of every plugin file, and the same per source,
//! so that a host that differs can say which source or file does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::config::diff::{pipeline_tables, plugins_of};

/// One source as hosts compare it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDigest {
    /// Its pipeline's tables in the config (source, transforms,
    /// partitioner, tenant).
    pub config: String,
    /// Its plugin files' contents, in pipeline order.
    pub plugins: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDigest {
    /// Of the whole config (less `[cluster] host_id`) and every plugin.
    pub whole: String,
    pub sources: BTreeMap<String, SourceDigest>,
}

fn hex(bytes: &[u8]) -> String {
    hex_of(&Sha256::digest(bytes))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ConfigDigest {
    /// `plugin_hashes`: each plugin's file hash, by plugin name.
    pub fn of(config: &Config, plugin_hashes: &BTreeMap<String, String>) -> Self {
        let mut raw = config.raw.clone();
        if let Some(toml::Value::Table(c)) = raw.get_mut("cluster") {
            c.remove("host_id");
        }
        // toml's tables are ordered maps: the same config gives the same text.
        let mut whole = Sha256::new();
        whole.update(raw.to_string());
        for (name, hash) in plugin_hashes {
            whole.update(format!("\n{name}={hash}"));
        }
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let name = s.name.get_ref();
                let tables = toml::Value::Array(pipeline_tables(config, name)).to_string();
                let plugins: Vec<&str> = plugins_of(config, name)
                    .iter()
                    .map(|p| plugin_hashes.get(p).map_or("?", String::as_str))
                    .collect();
                let digest = SourceDigest {
                    config: hex(tables.as_bytes()),
                    plugins: hex(plugins.join(",").as_bytes()),
                };
                (name.clone(), digest)
            })
            .collect();
        Self {
            whole: hex_of(&whole.finalize()),
            sources,
        }
    }

    /// How `self` differs from `other` (the group's), for people; `None` if
    /// it does not.
    pub fn difference(&self, other: &ConfigDigest) -> Option<String> {
        if self.whole == other.whole {
            return None;
        }
        let mut why = Vec::new();
        for (name, mine) in &self.sources {
            match other.sources.get(name) {
                None => why.push(format!("source `{name}` is not in the group's config")),
                Some(theirs) if theirs.config != mine.config => {
                    why.push(format!("source `{name}` differs"))
                }
                Some(theirs) if theirs.plugins != mine.plugins => {
                    why.push(format!("a plugin file of source `{name}` differs"))
                }
                Some(_) => {}
            }
        }
        for name in other.sources.keys() {
            if !self.sources.contains_key(name) {
                why.push(format!("source `{name}` of the group's config is missing"));
            }
        }
        if why.is_empty() {
            why.push("a table outside the sources' pipelines differs ([kafka], [runtime], [checkpoints] or [cluster])".into());
        }
        let more = why.len().saturating_sub(4);
        why.truncate(4);
        if more > 0 {
            why.push(format!("and {more} more"));
        }
        Some(why.join("; "))
    }

    /// A short form for people.
    pub fn short(&self) -> &str {
        &self.whole[..self.whole.len().min(12)]
    }
}
