//! The TOML configuration: what a user writes, checked before anything runs.
//!
//! Every error names the file, the line and the field. Unknown fields are
//! rejected so that a typo never silently falls back to a default.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;

use crate::plugin::World;
pub use cluster::ClusterConfig;

mod admin;
mod formats;
mod security;

pub use admin::{Admin, AdminConfig};
pub use formats::{AvroInput, Format, SchemaRegistryConfig, SchemaRegistryTable, SubjectStrategy};

pub use security::{Mechanism, Protocol, Security, SecurityConfig, StaticToken, Value};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    #[serde(default, rename = "transform")]
    pub transforms: Vec<TransformConfig>,
    #[serde(default, rename = "partitioner")]
    pub partitioners: Vec<PartitionerConfig>,
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
    /// Durable source checkpoints; without this table a source's position
    /// lives only as long as the process.
    #[serde(default)]
    pub checkpoints: Option<CheckpointConfig>,
    /// Hosts sharing these sources through a Kafka consumer group.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// Where Avro schemas are registered and looked up.
    #[serde(default)]
    pub schema_registry: Option<SchemaRegistryTable>,
    /// `schema_registry` with its secret and CA loaded.
    #[serde(skip)]
    pub resolved_registry: Option<SchemaRegistryConfig>,
    /// Metrics and the admin API over HTTP; off without this table.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// `admin` checked, with its token loaded (by `Config::parse`).
    #[serde(skip)]
    pub resolved_admin: Option<Admin>,
    /// The directory of the config file: relative `wasm` paths start here.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file as TOML values, without positions: what a reload compares.
    #[serde(skip)]
    pub raw: toml::Table,
    /// The config file, read again on reload.
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `host:port,...`; absent means the embedded in-process cluster.
    pub brokers: Option<String>,
    #[serde(deserialize_with = "numbers::any_u64")]
    pub linger_ms: u64,
    /// `batch.size` in bytes.
    pub batch_size: ByteSize,
    /// `none`, `gzip`, `snappy` or `lz4`.
    pub compression: String,
    /// `all`, `1` or `0`.
    pub acks: String,
    pub idempotence: bool,
    /// How long librdkafka keeps retrying a record before reporting it failed.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub message_timeout_ms: u64,
    /// How long startup waits for a broker to answer before giving up.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub connect_timeout_ms: u64,
    /// Partitions and replication for topics a transform may route to.
    #[serde(deserialize_with = "numbers::partitions")]
    pub default_partitions: i32,
    #[serde(deserialize_with = "numbers::replication")]
    pub default_replication: i16,
    /// The shared producer's window, across all sources: records and bytes
    /// handed over and not yet reported. While it is full, sources take turns
    /// by weight (see `weight`).
    #[serde(deserialize_with = "numbers::any_u64")]
    pub max_in_flight_records: u64,
    pub max_in_flight_bytes: ByteSize,
    /// Any librdkafka producer property, passed through as is; wins over the
    /// fields above and `security`.
    pub properties: BTreeMap<String, String>,
    /// TLS and SASL: `[kafka.security]`.
    pub security: SecurityConfig,
    /// `security` checked, with its secrets loaded (by `Config::parse`).
    #[serde(skip)]
    pub resolved_security: Security,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            linger_ms: 20,
            batch_size: ByteSize(1 << 20),
            compression: "lz4".into(),
            acks: "all".into(),
            idempotence: true,
            message_timeout_ms: 120_000,
            connect_timeout_ms: 30_000,
            default_partitions: 1,
            default_replication: 1,
            max_in_flight_records: 500_000,
            max_in_flight_bytes: ByteSize(512 << 20),
            properties: BTreeMap::new(),
            security: SecurityConfig::default(),
            resolved_security: Security::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    pub store: StoreKind,
    /// The compacted topic of the `kafka` store.
    pub topic: String,
    /// The directory of the `file` store.
    pub dir: Option<PathBuf>,
    /// How often acknowledged checkpoints are committed.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub interval_ms: u64,
    /// When the store does not exist yet.
    pub missing: Missing,
    /// When a stored checkpoint is damaged.
    pub corrupt: Corrupt,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Kafka,
            topic: "streamplug-checkpoints".into(),
            dir: None,
            interval_ms: 200,
            missing: Missing::Create,
            corrupt: Corrupt::Fail,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Kafka,
    File,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Records go through the shared producer; after a crash the source
    /// resumes from its last committed checkpoint, so records handed over
    /// after it are produced again (duplicates, never loss).
    #[default]
    AtLeastOnce,
    /// Records go through a transactional producer of the source's own, with
    /// its checkpoint in the same transaction: a `read_committed` consumer
    /// sees each record once, across crashes.
    ExactlyOnce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Create it: the first run of a config.
    Create,
    /// Refuse to start.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corrupt {
    /// Refuse to start, naming the damage.
    Fail,
    /// Start every source from the beginning.
    StartOver,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; default `$XDG_CACHE_HOME/streamplug`.
    pub cache_dir: Option<PathBuf>,
    /// Pre-reserve instance slots (faster instantiation, more address space).
    pub pooling_allocator: bool,
    /// Instances the pooling allocator has slots for: every plugin of every
    /// pipeline, plus one for each plugin being hot swapped.
    #[serde(deserialize_with = "numbers::any_u32")]
    pub max_instances: u32,
    /// First restart delay after a plugin fails; doubles up to the maximum.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub restart_backoff_ms: u64,
    #[serde(deserialize_with = "numbers::any_u64")]
    pub restart_backoff_max_ms: u64,
    /// How long a source that said "nothing right now" waits by default.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub idle_backoff_ms: u64,
    /// Restarts allowed within `restart_window_ms` of running time (backoffs
    /// not counted, so a grown backoff cannot outgrow the window); one more
    /// failure in that window and the plugin is given up on: its pipeline
    /// stops and it is marked failed. (A window, not "in a row": a plugin
    /// that crashes after every successful batch is failing too.)
    #[serde(deserialize_with = "numbers::any_u32")]
    pub max_restarts: u32,
    #[serde(deserialize_with = "numbers::any_u64")]
    pub restart_window_ms: u64,
    /// Watch the config and plugin files and reload when they change
    /// (SIGHUP reloads either way).
    pub watch: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            pooling_allocator: true,
            max_instances: crate::engine::POOLED_INSTANCES,
            restart_backoff_ms: 100,
            restart_backoff_max_ms: 30_000,
            idle_backoff_ms: 50,
            max_restarts: 10,
            restart_window_ms: 60_000,
            watch: true,
        }
    }
}

/// Limits that every plugin has, whatever its world.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Linear memory a plugin instance may grow to.
    pub memory: ByteSize,
    /// CPU time one call may take before it is interrupted.
    #[serde(deserialize_with = "numbers::any_u64")]
    pub call_timeout_ms: u64,
    /// CPU time the plugin may use per second, on average (1000 = a whole
    /// core, which one plugin instance can never exceed anyway).
    #[serde(deserialize_with = "numbers::any_u64")]
    pub cpu_ms_per_second: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory: ByteSize(64 << 20),
            call_timeout_ms: 2_000,
            cpu_ms_per_second: 1_000,
        }
    }
}

/// What a plugin may reach beyond clocks, random and logging: nothing unless
/// granted here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Host directories the plugin may read, each visible read-only at the
    /// same path inside the sandbox.
    pub read_dirs: Vec<PathBuf>,
    /// Names of host environment variables the plugin may read.
    pub env: Vec<String>,
}

/// A rate limit: records and bytes (key, value, headers) per second, with
/// bursts of up to one second's worth. Over it, the source is slowed down;
/// nothing is dropped.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    #[serde(deserialize_with = "numbers::opt_u32")]
    pub records_per_second: Option<u32>,
    pub bytes_per_second: Option<ByteSize>,
}

/// A tenant: owns topics, may share a quota among its plugins, and may
/// have a dead-letter topic for records that could not be delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: Spanned<String>,
    /// Topic names, or prefixes written with a trailing `*` (`"acme.*"`).
    pub topics: Vec<String>,
    /// Where records of this tenant's sources that cannot reach their topic
    /// go, with the cause, source plugin and original topic in headers.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// Shared by all the tenant's sources together.
    #[serde(default)]
    pub quota: Quota,
}

impl TenantConfig {
    pub fn owns(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => topic.starts_with(prefix),
            None => t == topic,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub tenant: Option<Spanned<String>>,
    pub wasm: Spanned<PathBuf>,
    pub topic: Spanned<String>,
    #[serde(default = "one", deserialize_with = "numbers::partitions")]
    pub partitions: i32,
    #[serde(default = "one_i16", deserialize_with = "numbers::replication")]
    pub replication: i16,
    /// Topic-level configs used when the topic is created (e.g. `retention.ms`).
    #[serde(default)]
    pub topic_config: BTreeMap<String, String>,
    #[serde(default = "no_transforms")]
    pub transforms: Spanned<Vec<String>>,
    #[serde(default)]
    pub partitioner: Option<Spanned<String>>,
    /// Most records asked of the source per poll.
    #[serde(default = "default_batch_size", deserialize_with = "numbers::any_u32")]
    pub batch_size: u32,
    /// This source's share of the producer's window when it is contended,
    /// relative to other sources (1 to 100).
    #[serde(default = "one_u32", deserialize_with = "numbers::any_u32")]
    pub weight: u32,
    /// What a crash may do to this source's records in Kafka.
    #[serde(default = "at_least_once")]
    pub delivery: Spanned<Delivery>,
    #[serde(
        default = "default_in_flight_records",
        deserialize_with = "numbers::any_u64"
    )]
    pub max_in_flight_records: u64,
    #[serde(default = "default_in_flight_bytes")]
    pub max_in_flight_bytes: ByteSize,
    /// Largest record (key, value and headers) that may be handed over.
    #[serde(default = "default_max_record")]
    pub max_record_bytes: Spanned<ByteSize>,
    #[serde(default)]
    pub quota: Quota,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: PluginLimits,
    #[serde(default)]
    pub config: PluginSettings,
    /// What the source's values are, and what the host makes of them.
    #[serde(default)]
    pub value_format: Format,
    #[serde(default)]
    pub key_format: Format,
    /// How schema subjects are named in `[schema_registry]`.
    #[serde(default)]
    pub subject_strategy: SubjectStrategy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub tenant: Option<Spanned<String>>,
    #[serde(default)]
    pub capabilities: Capabilities,
    pub wasm: Spanned<PathBuf>,
    /// Topics, besides the source's own, this transform may route records to.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub limits: PluginLimits,
    #[serde(default)]
    pub config: PluginSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionerConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub tenant: Option<Spanned<String>>,
    #[serde(default)]
    pub capabilities: Capabilities,
    pub wasm: Spanned<PathBuf>,
    #[serde(default)]
    pub limits: PluginLimits,
    #[serde(default)]
    pub config: PluginSettings,
}

fn no_transforms() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}
fn one() -> i32 {
    1
}
fn at_least_once() -> Spanned<Delivery> {
    Spanned::new(0..0, Delivery::AtLeastOnce)
}
fn one_u32() -> u32 {
    1
}
fn one_i16() -> i16 {
    1
}
fn default_batch_size() -> u32 {
    1024
}
fn default_in_flight_records() -> u64 {
    100_000
}
fn default_in_flight_bytes() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_max_record() -> Spanned<ByteSize> {
    // An empty span: not written in the file.
    Spanned::new(0..0, ByteSize(1 << 20))
}

/// A plugin's own settings: strings, numbers and booleans, handed to the
/// plugin as strings.
#[derive(Debug, Default, Clone)]
pub struct PluginSettings(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for PluginSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, toml::Value>::deserialize(d)?;
        let mut out = Vec::with_capacity(table.len());
        for (k, v) in table {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "plugin setting `{k}` must be a string, number or boolean, not {}",
                        other.type_str()
                    )));
                }
            };
            out.push((k, s));
        }
        Ok(Self(out))
    }
}

/// A size in bytes, written as a number or as `"64MiB"`, `"1 GB"`, `"512KiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a size like 64MiB"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` (use B, KiB, MiB, GiB, KB, MB, GB)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("size `{s}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        numbers::size(d)
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and checks config text; `path` names it in errors and anchors
    /// relative plugin paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        // TOML's errors quote the offending line, which may hold a secret.
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let e = crate::secrets::scrub_config_text(e.to_string().trim_end());
            anyhow::anyhow!("{}: {e}", path.display())
        })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.path = path.to_path_buf();
        config.raw = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        config
            .validate(text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (k, v) in &config.kafka.properties {
            if crate::secrets::SENSITIVE_PROPERTIES.contains(&k.as_str()) {
                crate::secrets::remember(v);
            }
        }
        config.kafka.resolved_security = config
            .kafka
            .security
            .resolve(&config.base_dir, crate::producer::features::has)
            .map_err(|e| anyhow::anyhow!("{}: [kafka.security]: {e}", path.display()))?;
        config.resolved_registry = config
            .schema_registry
            .as_ref()
            .map(|r| r.resolve(&config.base_dir))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{}: [schema_registry]: {e}", path.display()))?;
        config.resolved_admin = config
            .admin
            .as_ref()
            .map(|a| a.resolve(&config.base_dir))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{}: [admin]: {e}", path.display()))?;
        Ok(config)
    }

    /// Where a plugin's `.wasm` lives, relative paths taken from the config's folder.
    pub fn resolve(&self, wasm: &Path) -> PathBuf {
        if wasm.is_absolute() {
            wasm.to_path_buf()
        } else {
            self.base_dir.join(wasm)
        }
    }

    /// Every plugin the config names: its name, its resolved file, and the
    /// world its table says it implements.
    pub fn plugin_files(&self) -> Vec<(String, PathBuf, World)> {
        let sources = self
            .sources
            .iter()
            .map(|s| (&s.name, &s.wasm, World::Source));
        let transforms = self
            .transforms
            .iter()
            .map(|t| (&t.name, &t.wasm, World::Transform));
        let partitioners = self
            .partitioners
            .iter()
            .map(|p| (&p.name, &p.wasm, World::Partitioner));
        sources
            .chain(transforms)
            .chain(partitioners)
            .map(|(n, w, world)| (n.get_ref().clone(), self.resolve(w.get_ref()), world))
            .collect()
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| *s.name.get_ref() == name)
    }

    pub fn transform(&self, name: &str) -> Option<&TransformConfig> {
        self.transforms.iter().find(|t| *t.name.get_ref() == name)
    }

    pub fn partitioner(&self, name: &str) -> Option<&PartitionerConfig> {
        self.partitioners.iter().find(|p| *p.name.get_ref() == name)
    }

    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| *t.name.get_ref() == name)
    }

    /// The tenant a source belongs to (none when no tenants are configured).
    pub fn tenant_of(&self, source: &SourceConfig) -> Option<&TenantConfig> {
        source
            .tenant
            .as_ref()
            .and_then(|t| self.tenant(t.get_ref()))
    }

    fn validate(&self, text: &str) -> Result<(), String> {
        let at = |span: Range<usize>| line_of(text, span.start);
        if self.sources.is_empty() {
            return Err("no [[source]] is configured: nothing would be produced".into());
        }
        // Each slot reserves address space for its largest memory (4 GiB,
        // twice): past this the pool would not fit a 47-bit address space.
        if !(1..=10_000).contains(&self.runtime.max_instances) {
            return Err(format!(
                "[runtime]: `max_instances` must be 1 to 10000, not {}",
                self.runtime.max_instances
            ));
        }
        if self.kafka.max_in_flight_records == 0 || self.kafka.max_in_flight_bytes.0 == 0 {
            return Err(
                "[kafka]: `max_in_flight_records` and `max_in_flight_bytes` must be above 0".into(),
            );
        }
        let mut names = HashSet::new();
        let plugin_names = self
            .sources
            .iter()
            .map(|s| &s.name)
            .chain(self.transforms.iter().map(|t| &t.name))
            .chain(self.partitioners.iter().map(|p| &p.name));
        for name in plugin_names {
            let n = name.get_ref();
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "line {}: field `name`: `{n}` must be non-empty and use only letters, digits, `-`, `_` and `.`",
                    at(name.span())
                ));
            }
            if !names.insert(n.as_str()) {
                return Err(format!(
                    "line {}: field `name`: plugin name `{n}` is used twice",
                    at(name.span())
                ));
            }
        }
        let limits = self
            .sources
            .iter()
            .map(|s| (&s.name, &s.limits))
            .chain(self.transforms.iter().map(|t| (&t.name, &t.limits)))
            .chain(self.partitioners.iter().map(|p| (&p.name, &p.limits)));
        for (name, l) in limits {
            if !(1..=1000).contains(&l.cpu_ms_per_second) || l.call_timeout_ms == 0 {
                return Err(format!(
                    "plugin `{}` (line {}): field `limits`: cpu_ms_per_second must be 1 to 1000 and call_timeout_ms above 0",
                    name.get_ref(),
                    at(name.span())
                ));
            }
        }
        for s in &self.sources {
            let line = at(s.name.span());
            check_topic_name(s.topic.get_ref())
                .map_err(|e| format!("line {}: field `topic`: {e}", at(s.topic.span())))?;
            if s.partitions < 1 {
                return Err(format!(
                    "source `{}` (line {line}): field `partitions` must be at least 1",
                    s.name.get_ref()
                ));
            }
            if s.batch_size == 0 || s.max_in_flight_records == 0 || s.max_in_flight_bytes.0 == 0 {
                return Err(format!(
                    "source `{}` (line {line}): `batch_size`, `max_in_flight_records` and `max_in_flight_bytes` must be above 0",
                    s.name.get_ref()
                ));
            }
            if *s.delivery.get_ref() == Delivery::ExactlyOnce
                && self
                    .checkpoints
                    .as_ref()
                    .is_none_or(|c| c.store != StoreKind::Kafka)
            {
                return Err(format!(
                    "source `{}` (line {}): field `delivery`: \"exactly_once\" writes the source's checkpoint in the same Kafka transaction as its records, so it needs `[checkpoints]` with `store = \"kafka\"`",
                    s.name.get_ref(),
                    at(s.delivery.span())
                ));
            }
            if !(1..=100).contains(&s.weight) {
                return Err(format!(
                    "source `{}` (line {line}): field `weight` must be 1 to 100, not {}",
                    s.name.get_ref(),
                    s.weight
                ));
            }
            for t in s.transforms.get_ref() {
                if self.transform(t).is_none() {
                    return Err(format!(
                        "line {}: field `transforms`: no [[transform]] is named `{t}`",
                        at(s.transforms.span())
                    ));
                }
            }
            if let Some(p) = &s.partitioner
                && self.partitioner(p.get_ref()).is_none()
            {
                return Err(format!(
                    "line {}: field `partitioner`: no [[partitioner]] is named `{}`",
                    at(p.span()),
                    p.get_ref()
                ));
            }
        }
        record_size::check(self, &at)?;
        for t in &self.transforms {
            for topic in &t.topics {
                check_topic_name(topic).map_err(|e| {
                    format!("transform `{}`: field `topics`: {e}", t.name.get_ref())
                })?;
            }
        }
        let wasm_paths = self
            .sources
            .iter()
            .map(|s| &s.wasm)
            .chain(self.transforms.iter().map(|t| &t.wasm))
            .chain(self.partitioners.iter().map(|p| &p.wasm));
        for wasm in wasm_paths {
            let resolved = self.resolve(wasm.get_ref());
            if !resolved.is_file() {
                return Err(format!(
                    "line {}: field `wasm`: plugin file {} does not exist",
                    at(wasm.span()),
                    resolved.display()
                ));
            }
        }
        let grants = self
            .sources
            .iter()
            .map(|s| (&s.name, &s.capabilities))
            .chain(self.transforms.iter().map(|t| (&t.name, &t.capabilities)))
            .chain(self.partitioners.iter().map(|p| (&p.name, &p.capabilities)));
        for (name, grant) in grants {
            check_capabilities(grant).map_err(|e| {
                format!(
                    "plugin `{}` (line {}): field `capabilities`: {e}",
                    name.get_ref(),
                    at(name.span())
                )
            })?;
        }
        if let Some(c) = &self.cluster {
            let store_in_kafka = self
                .checkpoints
                .as_ref()
                .is_some_and(|c| c.store == StoreKind::Kafka);
            c.validate(store_in_kafka, self.kafka.brokers.is_some())?;
        }
        self.validate_tenants(text)
    }

    /// With `[[tenant]]`s configured, every plugin belongs to one, a
    /// pipeline stays within one tenant, and it produces only to its
    /// tenant's topics.
    fn validate_tenants(&self, text: &str) -> Result<(), String> {
        let at = |span: Range<usize>| line_of(text, span.start);
        let mut names = HashSet::new();
        for t in &self.tenants {
            if !names.insert(t.name.get_ref().as_str()) {
                return Err(format!(
                    "line {}: tenant `{}` is defined twice",
                    at(t.name.span()),
                    t.name.get_ref()
                ));
            }
            if let Some(dlq) = &t.dead_letter_topic {
                check_topic_name(dlq).map_err(|e| {
                    format!(
                        "tenant `{}`: field `dead_letter_topic`: {e}",
                        t.name.get_ref()
                    )
                })?;
            }
        }
        let plugins = self
            .sources
            .iter()
            .map(|s| (&s.name, &s.tenant))
            .chain(self.transforms.iter().map(|t| (&t.name, &t.tenant)))
            .chain(self.partitioners.iter().map(|p| (&p.name, &p.tenant)));
        for (name, tenant) in plugins {
            match (tenant, self.tenants.is_empty()) {
                (None, false) => {
                    return Err(format!(
                        "line {}: plugin `{}` has no `tenant`; with [[tenant]]s configured, every plugin names one",
                        at(name.span()),
                        name.get_ref()
                    ));
                }
                (Some(t), _) if self.tenant(t.get_ref()).is_none() => {
                    return Err(format!(
                        "line {}: field `tenant`: no [[tenant]] is named `{}`",
                        at(t.span()),
                        t.get_ref()
                    ));
                }
                _ => {}
            }
        }
        for s in &self.sources {
            let Some(tenant) = self.tenant_of(s) else {
                continue;
            };
            let tname = tenant.name.get_ref();
            if !tenant.owns(s.topic.get_ref()) {
                return Err(format!(
                    "line {}: field `topic`: tenant `{tname}` does not own topic `{}`",
                    at(s.topic.span()),
                    s.topic.get_ref()
                ));
            }
            let members = s
                .transforms
                .get_ref()
                .iter()
                .filter_map(|t| self.transform(t))
                .map(|t| (&t.name, &t.tenant, t.topics.as_slice()))
                .chain(
                    s.partitioner
                        .as_ref()
                        .and_then(|p| self.partitioner(p.get_ref()))
                        .map(|p| (&p.name, &p.tenant, &[][..])),
                );
            for (name, tenant_of_member, topics) in members {
                if tenant_of_member.as_ref().map(|t| t.get_ref()) != Some(tname) {
                    return Err(format!(
                        "line {}: plugin `{}` belongs to another tenant than source `{}` (tenant `{tname}`); a pipeline stays within one tenant",
                        at(name.span()),
                        name.get_ref(),
                        s.name.get_ref()
                    ));
                }
                if let Some(topic) = topics.iter().find(|t| !tenant.owns(t)) {
                    return Err(format!(
                        "line {}: transform `{}` may route to topic `{topic}`, which tenant `{tname}` does not own",
                        at(name.span()),
                        name.get_ref()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A granted directory must exist now, so that a typo fails at startup
/// rather than at the plugin's first read; it appears at the same path inside
/// the sandbox, hence absolute.
fn check_capabilities(grant: &Capabilities) -> Result<(), String> {
    for dir in &grant.read_dirs {
        let shown = dir.display();
        if !dir.is_absolute() {
            return Err(format!(
                "read_dirs: {shown} is not an absolute path (it is seen at the same path inside the sandbox)"
            ));
        }
        if dir.to_str().is_none() {
            return Err(format!("read_dirs: {shown} is not valid UTF-8"));
        }
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("read_dirs: {shown} is not a directory")),
            Err(e) => return Err(format!("read_dirs: {shown}: {e}")),
        }
    }
    for name in &grant.env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!("env: `{name}` is not an environment variable name"));
        }
    }
    Ok(())
}

/// Kafka's own rule for topic names.
fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 || name == "." || name == ".." {
        return Err(format!(
            "`{name}` is not a valid topic name (1 to 249 characters, not `.` or `..`)"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c)))
    {
        return Err(format!(
            "topic `{name}` has `{c}`; topic names use only letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

pub mod cluster;
pub mod diff;
mod numbers;
mod record_size;

#[cfg(test)]
mod tests;
