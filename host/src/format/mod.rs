//! Record formats: what the host makes of a source's keys and values before
//! they are produced. `bytes` passes them on; `json` checks them; `avro`
//! encodes the plugin's JSON (or checks its Avro binary); `protobuf` encodes
//! the plugin's JSON; `json_schema` checks it against a JSON Schema. With a `[schema_registry]`, values are framed in the
//! Confluent wire format (magic byte 0, the schema id as 4 bytes big-endian,
//! for protobuf the message indexes, then the payload).
//!
//! Schema ids are resolved once, before a source's first poll, so that
//! encoding never waits on the registry: a registry that goes away later
//! changes nothing, and one that is away at the start holds the source back
//! (nothing is produced unframed).

pub mod avro;
pub mod json_schema;
pub mod protobuf;
pub mod registry;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use streamplug_codec::{BatchReader, BatchWriter, RecordRef};

use crate::config::{AvroInput, Format, SourceConfig, SubjectStrategy};
use crate::producer::RecordSink;
use crate::producer::sink::Failed;
use crate::stats::FailureKind;
use avro::AvroSchema;
use json_schema::JsonSchema;
use protobuf::ProtoSchema;
use registry::{RegistryError, SchemaKind, SchemaRegistry};

/// The wire format's first byte.
pub const MAGIC: u8 = 0;

/// What becomes of one key or value.
struct Encoder {
    kind: Kind,
    /// Magic byte and schema id, once resolved (with a registry).
    frame: Option<[u8; 5]>,
    /// Its subject, until the id is resolved.
    subject: Option<String>,
}

enum Kind {
    /// Plain JSON, checked against a schema if it has one, never framed.
    Json(Option<Arc<JsonSchema>>),
    /// JSON Schema: checked, registered, framed.
    JsonSchema(Arc<JsonSchema>),
    Avro(Arc<AvroSchema>, AvroInput),
    Protobuf(Arc<ProtoSchema>),
}

#[derive(Default)]
struct TopicCodecs {
    key: Option<Encoder>,
    value: Option<Encoder>,
}

/// A source pipeline's formats, per topic it produces to.
pub struct Codecs {
    topics: HashMap<String, TopicCodecs>,
    registry: Option<Arc<SchemaRegistry>>,
}

/// What came of resolving schema ids.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Ready,
    /// The wait was cut short (the source is stopping).
    Stopped,
    /// The registry refused a schema: the source cannot run.
    Refused(String),
}

impl Codecs {
    /// Reads the source's schema files; `topics` are the topics its
    /// pipeline produces to. Errors name the file.
    pub fn new<'a>(
        source: &SourceConfig,
        base: &Path,
        topics: impl Iterator<Item = &'a String>,
        registry: Option<Arc<SchemaRegistry>>,
    ) -> Result<Self> {
        let key = load(&source.key_format, base)
            .with_context(|| format!("source `{}`: `key_format`", source.name.get_ref()))?;
        let value = load(&source.value_format, base)
            .with_context(|| format!("source `{}`: `value_format`", source.name.get_ref()))?;
        let mut map = HashMap::new();
        if key.is_some() || value.is_some() {
            for topic in topics {
                let make = |k: &Option<Kind>, suffix: &str| {
                    k.as_ref().map(|k| Encoder {
                        subject: registry
                            .as_ref()
                            .and_then(|_| subject(k, topic, suffix, source.subject_strategy)),
                        kind: match k {
                            Kind::Json(s) => Kind::Json(s.clone()),
                            Kind::JsonSchema(s) => Kind::JsonSchema(s.clone()),
                            Kind::Avro(s, i) => Kind::Avro(s.clone(), *i),
                            Kind::Protobuf(s) => Kind::Protobuf(s.clone()),
                        },
                        frame: None,
                    })
                };
                map.insert(
                    topic.clone(),
                    TopicCodecs {
                        key: make(&key, "key"),
                        value: make(&value, "value"),
                    },
                );
            }
        }
        Ok(Self {
            topics: map,
            registry,
        })
    }

    /// True if every key and value passes as it is.
    pub fn is_passthrough(&self) -> bool {
        self.topics.is_empty()
    }

    /// Registers (or looks up) every schema under its subject. An
    /// unreachable registry is asked again after `wait(delay)`, for as long
    /// as `wait` returns true; it is logged once a minute.
    pub fn resolve(&mut self, plugin: &str, wait: &dyn Fn(Duration) -> bool) -> Resolved {
        let Some(registry) = self.registry.clone() else {
            return Resolved::Ready;
        };
        let mut delay = Duration::from_millis(200);
        let mut waited = Duration::ZERO;
        let mut logged: Option<Duration> = None;
        let encoders = self
            .topics
            .values_mut()
            .flat_map(|t| t.key.iter_mut().chain(t.value.iter_mut()));
        for e in encoders {
            let Some(subject) = e.subject.clone() else {
                continue;
            };
            loop {
                match lookup(&registry, e, &subject) {
                    Ok(id) => {
                        let mut frame = [MAGIC; 5];
                        frame[1..].copy_from_slice(&id.to_be_bytes());
                        e.frame = Some(frame);
                        break;
                    }
                    Err(RegistryError::Refused(why)) => {
                        return Resolved::Refused(format!("subject `{subject}`: {why}"));
                    }
                    Err(RegistryError::Unreachable(why)) => {
                        if logged.is_none_or(|at| waited >= at + Duration::from_secs(60)) {
                            tracing::warn!(
                                plugin = plugin,
                                "waiting for the schema registry (subject `{subject}`): {why}; nothing is produced until it answers"
                            );
                            logged = Some(waited);
                        }
                        if !wait(delay) {
                            return Resolved::Stopped;
                        }
                        waited += delay;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
            if logged.is_some() {
                tracing::info!(
                    plugin = plugin,
                    "the schema registry answered (subject `{subject}`)"
                );
                logged = None;
            }
        }
        Resolved::Ready
    }

    /// Encodes a batch's keys and values. A record that does not fit its
    /// format is counted as failed and dead-lettered with its original
    /// bytes. Returns the batch, its record count and payload bytes.
    pub fn encode(
        &self,
        batch: &[u8],
        default_topic: &str,
        sink: &RecordSink,
    ) -> Option<(Vec<u8>, u32, u64)> {
        let reader = BatchReader::new(batch).ok()?;
        let mut w = BatchWriter::with_capacity(batch.len() + batch.len() / 8);
        let (mut key_buf, mut value_buf) = (Vec::new(), Vec::new());
        let (mut n, mut bytes) = (0u32, 0u64);
        for record in reader {
            let Ok(record) = record else { break };
            let topic = record.topic.unwrap_or(default_topic);
            let Some(codecs) = self.topics.get(topic) else {
                bytes += record.payload_len() as u64;
                n += 1;
                w.push(&record);
                continue;
            };
            let key = encode_one(codecs.key.as_ref(), record.key, &mut key_buf)
                .map_err(|e| format!("key for topic `{topic}` {e}"));
            let value = key.and_then(|k| {
                encode_one(codecs.value.as_ref(), record.value, &mut value_buf)
                    .map(|v| (k, v))
                    .map_err(|e| format!("value for topic `{topic}` {e}"))
            });
            match value {
                Ok((k, v)) => {
                    let k = if k { Some(&key_buf[..]) } else { record.key };
                    let v = if v {
                        Some(&value_buf[..])
                    } else {
                        record.value
                    };
                    bytes += write(&mut w, &record, k, v);
                    n += 1;
                }
                Err(cause) => {
                    sink.reject(failed(&record, topic), FailureKind::SchemaMismatch, &cause)
                }
            }
        }
        Some((w.finish(), n, bytes))
    }
}

/// Encodes `input` into `buf` if it has an encoder; true if it did.
fn encode_one(
    e: Option<&Encoder>,
    input: Option<&[u8]>,
    buf: &mut Vec<u8>,
) -> Result<bool, String> {
    let (Some(e), Some(input)) = (e, input) else {
        return Ok(false);
    };
    buf.clear();
    if let Some(frame) = &e.frame {
        buf.extend_from_slice(frame);
    }
    match &e.kind {
        Kind::Json(None) => {
            serde_json::from_slice::<serde::de::IgnoredAny>(input)
                .map_err(|err| format!("is not JSON: $: {err}"))?;
            // Checked, passed on as it is (plain JSON has no schema id).
            return Ok(false);
        }
        Kind::Json(Some(schema)) => {
            schema
                .check(input)
                .map_err(|err| format!("does not match its JSON Schema: {err}"))?;
            return Ok(false);
        }
        Kind::JsonSchema(schema) => {
            schema
                .check(input)
                .map_err(|err| format!("does not match its JSON Schema: {err}"))?;
            buf.extend_from_slice(input);
        }
        Kind::Avro(schema, AvroInput::Json) => schema
            .encode_json(input, buf)
            .map_err(|err| format!("does not match its Avro schema: {err}"))?,
        Kind::Avro(schema, AvroInput::Binary) => {
            schema
                .check_binary(input)
                .map_err(|err| format!("does not match its Avro schema: {err}"))?;
            buf.extend_from_slice(input);
        }
        Kind::Protobuf(schema) => {
            if e.frame.is_some() {
                buf.extend_from_slice(&schema.indexes);
            }
            schema
                .encode_json(input, buf)
                .map_err(|err| format!("does not match its protobuf message: {err}"))?;
        }
    }
    Ok(true)
}

/// Adds `record` with key `k` and value `v`; returns its payload bytes.
fn write(w: &mut BatchWriter, record: &RecordRef<'_>, k: Option<&[u8]>, v: Option<&[u8]>) -> u64 {
    let mut b = w.record();
    if let Some(k) = k {
        b = b.key(k);
    }
    if let Some(v) = v {
        b = b.value(v);
    }
    if let Some(ts) = record.timestamp {
        b = b.timestamp(ts);
    }
    if let Some(p) = record.partition {
        b = b.partition(p);
    }
    if let Some(t) = record.topic {
        b = b.topic(t);
    }
    let headers = record.headers;
    let mut payload = k.map_or(0, <[u8]>::len) + v.map_or(0, <[u8]>::len);
    let mut it = headers.iter();
    match it.next() {
        None => b.finish(),
        Some((name, value)) => {
            payload += name.len() + value.len();
            let mut h = b.header(name, value);
            for (name, value) in it {
                payload += name.len() + value.len();
                h = h.header(name, value);
            }
            h.finish();
        }
    }
    payload as u64
}

fn failed<'a>(
    record: &RecordRef<'a>,
    topic: &'a str,
) -> Failed<'a, streamplug_codec::HeaderIter<'a>> {
    Failed {
        value_too_large: false,
        topic,
        key: record.key,
        value: record.value,
        timestamp: record.timestamp,
        headers: record.headers.iter(),
    }
}

fn load(format: &Format, base: &Path) -> Result<Option<Kind>> {
    Ok(match format {
        Format::Bytes => None,
        Format::Json { schema: None } => Some(Kind::Json(None)),
        Format::Json {
            schema: Some(schema),
        } => Some(Kind::Json(Some(load_json_schema(&base.join(schema))?))),
        Format::JsonSchema { schema } => {
            Some(Kind::JsonSchema(load_json_schema(&base.join(schema))?))
        }
        Format::Avro { schema, input } => {
            let path = base.join(schema);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read Avro schema {}", path.display()))?;
            let parsed =
                AvroSchema::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(Kind::Avro(Arc::new(parsed), *input))
        }
        Format::Protobuf { schema, message } => {
            let parsed =
                ProtoSchema::load(&base.join(schema), message).map_err(|e| anyhow::anyhow!(e))?;
            Some(Kind::Protobuf(Arc::new(parsed)))
        }
    })
}

fn load_json_schema(path: &Path) -> Result<Arc<JsonSchema>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read JSON Schema {}", path.display()))?;
    let parsed =
        JsonSchema::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Arc::new(parsed))
}

/// The subject a schema is registered under; `None` for a format without
/// a schema (plain JSON is not registered).
fn subject(kind: &Kind, topic: &str, suffix: &str, strategy: SubjectStrategy) -> Option<String> {
    let full_name = match kind {
        Kind::Json(_) => return None,
        Kind::JsonSchema(schema) => schema.title.clone(),
        Kind::Avro(schema, _) => schema.full_name.clone(),
        Kind::Protobuf(schema) => Some(schema.full_name.clone()),
    };
    let record = || {
        full_name
            .clone()
            .unwrap_or_else(|| format!("{topic}-{suffix}"))
    };
    Some(match strategy {
        SubjectStrategy::TopicName => format!("{topic}-{suffix}"),
        SubjectStrategy::RecordName => record(),
        SubjectStrategy::TopicRecordName => format!("{topic}-{}", record()),
    })
}

fn lookup(registry: &SchemaRegistry, e: &Encoder, subject: &str) -> Result<u32, RegistryError> {
    let (kind, text) = match &e.kind {
        Kind::Json(_) => {
            return Err(RegistryError::Refused(
                "plain JSON has no schema to register".into(),
            ));
        }
        Kind::JsonSchema(schema) => (SchemaKind::Json, &schema.text),
        Kind::Avro(schema, _) => (SchemaKind::Avro, &schema.text),
        Kind::Protobuf(schema) => (SchemaKind::Protobuf, &schema.text),
    };
    if registry.use_latest {
        let (id, latest_kind, latest) = registry.latest(subject)?;
        // The host encodes with its own schema: the latest must be it.
        if latest_kind != kind || !same_schema(&e.kind, &latest) {
            return Err(RegistryError::Refused(format!(
                "the latest schema of subject `{subject}` (id {id}) is not the configured one"
            )));
        }
        return Ok(id);
    }
    registry.id_for(subject, kind, text)
}

/// True if `registered` is the encoder's schema: Avro by canonical form,
/// others by their text with whitespace ignored (registries may reformat).
fn same_schema(kind: &Kind, registered: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    match kind {
        Kind::Json(_) => false,
        Kind::JsonSchema(schema) => {
            serde_json::from_str::<serde_json::Value>(registered).ok()
                == serde_json::from_str::<serde_json::Value>(&schema.text).ok()
        }
        Kind::Avro(schema, _) => {
            AvroSchema::parse(registered).map(|s| s.canonical()) == Ok(schema.canonical())
        }
        Kind::Protobuf(schema) => squeeze(registered) == squeeze(&schema.text),
    }
}
