//! `[cluster]`: hosts that share the sources of one config through a Kafka
//! consumer group (see the `cluster` module).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The consumer group every host of this cluster joins.
    pub group: String,
    /// How long a host may be silent before its sources move to others.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_ms: u64,
    /// How this host shows in `streamplug cluster status`; unique in the
    /// group. Default: the hostname and the process id.
    #[serde(default)]
    pub host_id: Option<String>,
}

fn default_session_timeout() -> u64 {
    10_000
}

impl ClusterConfig {
    /// This host's id: the configured one, or `hostname-pid`.
    pub fn host_id(&self) -> String {
        self.host_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()))
    }

    /// Checks what needs no other table; `store_in_kafka` and `has_brokers`
    /// say what cluster mode relies on elsewhere in the config.
    pub fn validate(&self, store_in_kafka: bool, has_brokers: bool) -> Result<(), String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 200
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if !name_ok(&self.group) {
            return Err(format!(
                "[cluster]: field `group`: `{}` must be 1 to 200 letters, digits, `-`, `_` or `.` (it names Kafka topics)",
                self.group
            ));
        }
        if let Some(id) = &self.host_id
            && !name_ok(id)
        {
            return Err(format!(
                "[cluster]: field `host_id`: `{id}` must be 1 to 200 letters, digits, `-`, `_` or `.`"
            ));
        }
        if !(1_000..=3_600_000).contains(&self.session_timeout_ms) {
            return Err(format!(
                "[cluster]: field `session_timeout_ms` must be 1000 to 3600000 (the broker's group.min/max.session.timeout.ms narrow it further), not {}",
                self.session_timeout_ms
            ));
        }
        if !store_in_kafka {
            return Err(
                "[cluster] needs `[checkpoints]` with `store = \"kafka\"`: a source that moves to another host resumes from the checkpoint its last host committed, so checkpoints must live in the cluster".into(),
            );
        }
        if !has_brokers {
            return Err(
                "[cluster] needs `[kafka] brokers`: hosts meet in a real Kafka cluster, not in the embedded one".into(),
            );
        }
        Ok(())
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if rc != 0 || clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}
