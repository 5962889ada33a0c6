//! Case (a) of the bench: a bare rust-rdkafka producer loop, with
//! streamplug's own producer properties. It runs as `bench --bare-producer`
//! (with mimalloc, the allocator streamplug uses) and as
//! `bench-bare-system` (the same loop with the C library's allocator: "a
//! loop you would write"). Also what the bench shares with it: the config
//! of cases (b), (c) and (e), datagen's values, and small helpers.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{Value, json};
use streamplug_tests::{artifacts, brokers};

/// datagen's default: keys `key-0` .. `key-999`.
pub const KEY_CARDINALITY: u64 = 1000;

/// What the sweep varies; `None` keeps streamplug's default.
#[derive(Clone, Copy, Default, Debug)]
pub struct Knobs {
    pub linger_ms: Option<u64>,
    /// datagen's `rate` (records/s): a paced run instead of an unthrottled one.
    pub rate: Option<u64>,
    /// Sources in one host (case (e)); records and rate are split among them.
    pub sources: u32,
    /// What the values are (`bench --formats` and `--large` vary it).
    pub values: Values,
}

/// The values a case produces, and what the host does with them.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub enum Values {
    /// datagen's `format = "bytes"`: the a–z pattern, passed on as it is.
    #[default]
    Pattern,
    /// datagen's `format = "json"`, passed on as bytes.
    Json,
    /// datagen's `format = "json"`, encoded by the host as Avro
    /// ([`EVENT_AVSC`]) and framed with the id of the schema registry at
    /// `STREAMPLUG_TEST_REGISTRY`.
    JsonAvro,
    /// datagen's `format = "random"`: incompressible, for large values; the
    /// producer's `message.max.bytes` and the source's `max_record_bytes`
    /// are raised together to take ~1 MB records.
    Random,
}

impl Values {
    /// As the bare producer takes it.
    pub fn arg(self) -> &'static str {
        match self {
            Values::Pattern => "pattern",
            Values::Json => "json",
            Values::JsonAvro => "json-avro",
            Values::Random => "random",
        }
    }
}

/// The Avro schema of datagen's JSON values (`Values::JsonAvro`), written
/// beside the config as `event.avsc`.
pub const EVENT_AVSC: &str = r#"{"type":"record","name":"Event","namespace":"streamplug.bench","fields":[
  {"name":"seq","type":"long"},
  {"name":"kind","type":"string"},
  {"name":"pad","type":"string"}
]}"#;

/// librdkafka's `message.max.bytes` and the source's `max_record_bytes`
/// with `Values::Random`: a 1,000,000-byte value with its key and header
/// fits both, and the broker's default topic limit (1,048,588).
const LARGE_MESSAGE_MAX_BYTES: u64 = 1_048_576;
const LARGE_MAX_RECORD_BYTES: u64 = 1_040_000;

/// The config for cases (b), (c) and (e). The bare producer derives its
/// properties from the same text, so (a) can never drift from streamplug.
/// With `knobs.sources` above 1 (case (e)), that many `datagen` sources
/// (`datagen-0`, ...) share the records, the rate and the topic.
pub fn streamplug_config(
    brokers: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    value_bytes: usize,
    pipeline: bool,
    knobs: Knobs,
) -> String {
    let mut c = format!("[kafka]\nbrokers = \"{brokers}\"\n");
    if let Some(linger) = knobs.linger_ms {
        let _ = writeln!(c, "linger_ms = {linger}");
    }
    if knobs.values == Values::Random {
        let _ = writeln!(
            c,
            "properties = {{ \"message.max.bytes\" = \"{LARGE_MESSAGE_MAX_BYTES}\" }}"
        );
    }
    let sources = u64::from(knobs.sources.max(1));
    for k in 0..sources {
        let name = source_name(k, sources);
        // The first sources take the remainder.
        let count = records / sources + u64::from(k < records % sources);
        let _ = write!(
            c,
            "\n[[source]]\nname = \"{name}\"\nwasm = \"{}\"\n\
             topic = \"{topic}\"\npartitions = {partitions}\n",
            artifacts::DATAGEN
        );
        if pipeline {
            c += "transforms = [\"passthrough\"]\npartitioner = \"keyhash\"\n";
        }
        match knobs.values {
            Values::JsonAvro => {
                c += "value_format = { type = \"avro\", schema = \"event.avsc\" }\n";
            }
            Values::Random => {
                let _ = writeln!(c, "max_record_bytes = \"{LARGE_MAX_RECORD_BYTES}\"");
            }
            Values::Pattern | Values::Json => {}
        }
        // datagen's defaults already give what (a) and (d) are matched to:
        // keys key-0..key-999, a `seq` header, CreateTime = wall clock per poll.
        let _ = write!(
            c,
            "[source.config]\ncount = {count}\nvalue_size = {value_bytes}\n"
        );
        if let Some(rate) = knobs.rate {
            let _ = writeln!(c, "rate = {}", rate as f64 / sources as f64);
        }
        match knobs.values {
            Values::Json | Values::JsonAvro => c += "format = \"json\"\n",
            Values::Random => c += "format = \"random\"\n",
            Values::Pattern => {}
        }
    }
    if pipeline {
        let _ = write!(
            c,
            "\n[[transform]]\nname = \"passthrough\"\nwasm = \"{}\"\n\n\
             [[partitioner]]\nname = \"keyhash\"\nwasm = \"{}\"\n",
            artifacts::TEST_PASSTHROUGH,
            artifacts::KEYHASH_PARTITIONER
        );
    }
    if knobs.values == Values::JsonAvro {
        let _ = write!(
            c,
            "\n[schema_registry]\nurl = \"{}\"\n",
            streamplug_tests::registry::url()
        );
    }
    c
}

/// The name of source `k` of `sources` in [`streamplug_config`].
pub fn source_name(k: u64, sources: u64) -> String {
    if sources == 1 {
        "datagen".to_string()
    } else {
        format!("datagen-{k}")
    }
}

/// datagen's value bytes: record `seq`'s value is
/// `pattern[seq % 26 .. seq % 26 + value_bytes]`.
pub fn value_pattern(value_bytes: usize) -> Vec<u8> {
    (0..value_bytes + 26)
        .map(|j| b'a' + (j % 26) as u8)
        .collect()
}

pub fn parse_num<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.replace('_', "")
        .parse()
        .map_err(|e| anyhow!("{flag} {text:?}: {e}"))
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A producer's properties for the report (the broker address left out).
pub fn properties_json(client: &ClientConfig) -> serde_json::Map<String, Value> {
    client
        .config_map()
        .into_iter()
        .filter(|(k, _)| *k != "bootstrap.servers")
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect()
}

/// Times each record from when it was made to its delivery report.
struct Timing {
    base: Instant,
    latencies_us: Mutex<Vec<u32>>,
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Timing {}

impl ProducerContext for Timing {
    /// Nanoseconds since `base` when the record was made; a plain integer,
    /// so that timing costs no allocation per record.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, made_ns: usize) {
        match result {
            Ok(_) => {
                let us =
                    (self.base.elapsed().as_nanos() as u64).saturating_sub(made_ns as u64) / 1000;
                self.delivered.fetch_add(1, Ordering::Relaxed);
                self.latencies_us
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(us.min(u64::from(u32::MAX)) as u32);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Produces datagen's records (same keys, values, `seq` header and
/// CreateTime-when-made) with a plain loop: no plugins, no host. Prints a JSON
/// report on stdout.
///
/// `TOPIC RECORDS VALUE_BYTES PARTITIONS [LINGER_MS|-] [RATE] [VALUES]`:
/// with a `RATE` (records/s) above 0, record `n` is made `n / RATE` seconds
/// after the first, as datagen paces. `VALUES` is `pattern` (datagen's
/// `bytes`, the default) or `random` (datagen's `random`, made per record
/// into one reused buffer, as datagen makes them).
pub fn bare_producer(args: &[String]) -> Result<()> {
    let usage = "usage: --bare-producer TOPIC RECORDS VALUE_BYTES PARTITIONS [LINGER_MS|-] [RATE] [pattern|random]";
    let (topic, records, value_bytes, partitions, rest) = match args {
        [t, r, v, p, rest @ ..] if rest.len() <= 3 => (t, r, v, p, rest),
        _ => bail!(usage),
    };
    let values = match rest.get(2).map(String::as_str) {
        None | Some("pattern") => Values::Pattern,
        Some("random") => Values::Random,
        Some(other) => bail!("VALUES {other:?}: the bare loop makes `pattern` or `random` values"),
    };
    let linger = match rest.first().map(String::as_str) {
        None | Some("-") => None,
        Some(l) => Some(parse_num(l, "LINGER_MS")?),
    };
    let rate: u64 = match rest.get(1) {
        Some(r) => parse_num(r, "RATE")?,
        None => 0,
    };
    let knobs = Knobs {
        linger_ms: linger,
        values,
        ..Knobs::default()
    };
    let records: u64 = parse_num(records, "RECORDS")?;
    let value_bytes: usize = parse_num(value_bytes, "VALUE_BYTES")?;
    let partitions: i32 = parse_num(partitions, "PARTITIONS")?;
    let brokers = brokers();

    // The producer properties streamplug itself would use for case (b).
    let text = streamplug_config(
        &brokers,
        topic,
        partitions,
        records,
        value_bytes,
        false,
        knobs,
    );
    let config = streamplug::Config::parse(&text, Path::new("bench-bare.toml"))
        .context("cannot derive streamplug's producer settings")?;
    let source = config
        .sources
        .first()
        .context("the derived config has no source")?;
    let mut client = streamplug::producer::settings::client_config(&config.kafka, &brokers);
    // streamplug pauses a source at its in-flight caps; librdkafka's queue
    // limits are the same thing for a bare loop (they count records until
    // their delivery report), so latency under load is like for like.
    client
        .set("client.id", "bench-bare")
        .set(
            "queue.buffering.max.messages",
            source.max_in_flight_records.to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            (source.max_in_flight_bytes.0 / 1024).to_string(),
        );
    let timing = Timing {
        base: Instant::now(),
        latencies_us: Mutex::new(Vec::with_capacity(records as usize)),
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
    };
    let producer: BaseProducer<Timing> = client
        .create_with_context(timing)
        .context("cannot create the producer")?;

    // streamplug checks its topics through its producer before the first
    // poll; a bare program that did not would charge its first records with
    // the topic's metadata lookup and the producer id handshake.
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .context("metadata for the topic")?;

    let pattern = if values == Values::Random {
        Vec::new()
    } else {
        value_pattern(value_bytes)
    };
    let mut random = Vec::with_capacity(value_bytes + 8);
    let mut key = String::with_capacity(16);
    let mut seq_text = String::with_capacity(20);
    let started = Instant::now();
    for seq in 0..records {
        if rate > 0 {
            pace(started, seq, rate);
        }
        key.clear();
        let _ = write!(key, "key-{}", seq % KEY_CARDINALITY);
        seq_text.clear();
        let _ = write!(seq_text, "{seq}");
        let value: &[u8] = if values == Values::Random {
            streamplug_tests::datagen::random_value_into(seq, value_bytes, &mut random);
            &random
        } else {
            let from = (seq % 26) as usize;
            &pattern[from..from + value_bytes]
        };
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: "seq",
            value: Some(seq_text.as_bytes()),
        });
        let made_ns = producer.context().base.elapsed().as_nanos() as usize;
        let made_ms = wall_us() / 1000;
        let mut record = BaseRecord::with_opaque_to(topic, made_ns)
            .key(key.as_bytes())
            .payload(value)
            .headers(headers)
            .timestamp(made_ms);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // At the in-flight cap: serve delivery reports until there is room.
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("produce failed: {e}"),
            }
        }
        // Delivery reports are served on this thread; often enough that
        // their timing is not delayed by more than a few tens of µs.
        if seq % 64 == 63 {
            producer.poll(Duration::ZERO);
        }
    }
    let send_seconds = started.elapsed().as_secs_f64();
    producer.flush(Duration::from_secs(120)).context("flush")?;
    let t = producer.context();
    let mut lat: Vec<f64> = t
        .latencies_us
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|&us| f64::from(us) / 1000.0)
        .collect();
    lat.sort_by(f64::total_cmp);
    let report = json!({
        "delivered": t.delivered.load(Ordering::Relaxed),
        "failed": t.failed.load(Ordering::Relaxed),
        "first_error": t.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        "seconds_to_flushed": started.elapsed().as_secs_f64(),
        "seconds_sending": send_seconds,
        "callback_latency_ms": {
            "what": "from when the loop made the record (before send) to its delivery report",
            "p50": percentile(&lat, 0.50),
            "p99": percentile(&lat, 0.99),
            "max": lat.last().copied(),
        },
        "properties": properties_json(&client),
    });
    println!("{report}");
    Ok(())
}

/// Waits until record `seq` is due at `rate` records/s from `started`.
fn pace(started: Instant, seq: u64, rate: u64) {
    let due = Duration::from_secs_f64(seq as f64 / rate as f64);
    let elapsed = started.elapsed();
    if due > elapsed {
        std::thread::sleep(due - elapsed);
    }
}
