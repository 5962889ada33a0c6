//! Per-record cost of each record format (issue 16, item 8): what the host
//! does to a batch of JSON values of about 100 B and of about 1 KiB before
//! they are produced, with the schema id already cached (no registry in the
//! loop: the Confluent frame carries a fixed id, as once resolved).
//!
//! The values are orders with six fields (`tests/fixtures/formats-bench`:
//! the same record as `order.avsc`, `order.proto` and `order.schema.json`):
//! `id`, `customer`, `amount`, `currency` (an enum), `ts` and `lines` (an
//! array of `{sku, qty}`: none at 100 B, 33 at 1 KiB). Each iteration
//! encodes one batch of 256 distinct records the way `Codecs::encode` does
//! (read the batch, encode each value into a buffer, write a new batch with
//! the key, timestamp and header carried over); the figure is the batch's
//! time divided by 256.
//!
//! - `bytes`: the batch rewritten with values as they are: the loop's floor,
//!   which every other row includes. (The pipeline itself skips the step for
//!   `bytes`: it costs nothing there.)
//! - `json`: the check that the value is JSON (value passed on as it is).
//! - `json-checked`: `json` with a JSON Schema (`{ type = "json", schema =
//!   ... }`): checked, not framed.
//! - `json_schema`: checked against the JSON Schema, framed.
//! - `avro`: the plugin's JSON checked and written as Avro binary, framed.
//! - `avro-binary`: the plugin's Avro binary checked by decoding it, framed.
//! - `protobuf`: the plugin's JSON parsed into the message and written as
//!   protobuf binary, framed with its message indexes.
//!
//! `cargo bench -p streamplug-tests --bench formats` writes
//! `tests/bench-results/formats.json` from criterion's estimates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use criterion::{BenchmarkId, Criterion, Throughput};
use serde_json::json;
use streamplug::format::avro::AvroSchema;
use streamplug::format::json_schema::JsonSchema;
use streamplug::format::protobuf::ProtoSchema;
use streamplug_codec::{BatchReader, BatchWriter, RecordRef};

/// Records per encoded batch.
const BATCH: usize = 256;

/// Target JSON sizes; the values come out at 102 and 1,025 bytes.
const SIZES: [usize; 2] = [100, 1024];

/// Every row, in the order of the report.
const FORMATS: [&str; 7] = [
    "bytes",
    "json",
    "json-checked",
    "json_schema",
    "avro",
    "avro-binary",
    "protobuf",
];

/// Magic byte and a fixed schema id (42), as a resolved encoder holds them.
const FRAME: [u8; 5] = [0, 0, 0, 0, 42];

/// One value's encoder, as the host applies it.
enum Encoder {
    Bytes,
    Json,
    JsonChecked(JsonSchema),
    JsonSchema(JsonSchema),
    Avro(AvroSchema),
    AvroBinary(AvroSchema),
    Protobuf(ProtoSchema),
}

impl Encoder {
    fn load(format: &str) -> Result<Self> {
        let dir = fixtures();
        let text = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .with_context(|| format!("cannot read {}", dir.join(name).display()))
        };
        let json_schema = || JsonSchema::parse(&text("order.schema.json")?).map_err(|e| anyhow!(e));
        let avro = || AvroSchema::parse(&text("order.avsc")?).map_err(|e| anyhow!(e));
        Ok(match format {
            "bytes" => Encoder::Bytes,
            "json" => Encoder::Json,
            "json-checked" => Encoder::JsonChecked(json_schema()?),
            "json_schema" => Encoder::JsonSchema(json_schema()?),
            "avro" => Encoder::Avro(avro()?),
            "avro-binary" => Encoder::AvroBinary(avro()?),
            "protobuf" => Encoder::Protobuf(
                ProtoSchema::load(&dir.join("order.proto"), "bench.Order")
                    .map_err(|e| anyhow!(e))?,
            ),
            other => return Err(anyhow!("no format {other:?}")),
        })
    }

    /// Encodes `input` into `buf` (cleared first); true if the record takes
    /// `buf` as its value, false if it keeps its own (checked, unchanged).
    fn encode(&self, input: &[u8], buf: &mut Vec<u8>) -> Result<bool, String> {
        buf.clear();
        match self {
            Encoder::Bytes => Ok(false),
            Encoder::Json => serde_json::from_slice::<serde::de::IgnoredAny>(input)
                .map(|_| false)
                .map_err(|e| e.to_string()),
            Encoder::JsonChecked(schema) => schema.check(input).map(|()| false),
            Encoder::JsonSchema(schema) => {
                schema.check(input)?;
                buf.extend_from_slice(&FRAME);
                buf.extend_from_slice(input);
                Ok(true)
            }
            Encoder::Avro(schema) => {
                buf.extend_from_slice(&FRAME);
                schema.encode_json(input, buf).map(|()| true)
            }
            Encoder::AvroBinary(schema) => {
                schema.check_binary(input)?;
                buf.extend_from_slice(&FRAME);
                buf.extend_from_slice(input);
                Ok(true)
            }
            Encoder::Protobuf(schema) => {
                buf.extend_from_slice(&FRAME);
                buf.extend_from_slice(&schema.indexes);
                schema.encode_json(input, buf).map(|()| true)
            }
        }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats-bench")
}

/// Encodes every value of `batch` as the host's `Codecs::encode` does;
/// returns the new batch and the total bytes of its values.
fn encode_batch(enc: &Encoder, batch: &[u8], buf: &mut Vec<u8>) -> Result<(Vec<u8>, usize)> {
    let reader = BatchReader::new(batch).map_err(|e| anyhow!("{e}"))?;
    let mut w = BatchWriter::with_capacity(batch.len() + batch.len() / 8);
    let mut value_bytes = 0;
    for record in reader {
        let record = record.map_err(|e| anyhow!("{e}"))?;
        let input = record.value.context("a record without a value")?;
        let own = enc
            .encode(input, buf)
            .map_err(|e| anyhow!("the value does not fit its format: {e}"))?;
        let value = if own { &buf[..] } else { input };
        value_bytes += value.len();
        write(&mut w, &record, value);
    }
    Ok((w.finish(), value_bytes))
}

/// Adds `record` with `value`, carrying its key, timestamp and headers over.
fn write(w: &mut BatchWriter, record: &RecordRef<'_>, value: &[u8]) {
    let mut b = w.record().value(value);
    if let Some(k) = record.key {
        b = b.key(k);
    }
    if let Some(ts) = record.timestamp {
        b = b.timestamp(ts);
    }
    let mut headers = record.headers.iter();
    match headers.next() {
        None => b.finish(),
        Some((name, v)) => {
            let mut h = b.header(name, v);
            for (name, v) in headers {
                h = h.header(name, v);
            }
            h.finish();
        }
    }
}

/// The order `seq` as JSON with `lines` order lines.
fn order(seq: u64, lines: usize) -> String {
    let items: Vec<String> = (0..lines as u64)
        .map(|i| {
            format!(
                r#"{{"sku":"SKU-{:05}","qty":{}}}"#,
                (seq * 7 + i) % 100_000,
                1 + (seq + i) % 9
            )
        })
        .collect();
    format!(
        r#"{{"id":{seq},"customer":"customer-{:03}","amount":{}.{:02},"currency":"{}","ts":{},"lines":[{}]}}"#,
        seq % 1000,
        10 + seq % 990,
        seq % 100,
        ["EUR", "USD", "GBP"][(seq % 3) as usize],
        1_764_700_000_000 + seq,
        items.join(",")
    )
}

/// The number of order lines whose JSON comes nearest `size` bytes.
fn lines_for(size: usize) -> usize {
    (0..200)
        .min_by_key(|&n| order(123_456, n).len().abs_diff(size))
        .unwrap_or(0)
}

/// A batch of `BATCH` orders of about `size` bytes, as datagen's records
/// are: a key, a timestamp and a `seq` header. With `avro`, the values are
/// Avro binary instead of JSON.
fn batch(size: usize, avro: Option<&AvroSchema>) -> Result<Vec<u8>> {
    let lines = lines_for(size);
    let mut w = BatchWriter::with_capacity(BATCH * (size + 64));
    for seq in 123_456..123_456 + BATCH as u64 {
        let key = format!("key-{}", seq % 1000);
        let json = order(seq, lines);
        let mut value = json.into_bytes();
        if let Some(schema) = avro {
            let mut binary = Vec::new();
            schema
                .encode_json(&value, &mut binary)
                .map_err(|e| anyhow!(e))?;
            value = binary;
        }
        w.record()
            .key(key.as_bytes())
            .value(&value)
            .timestamp(1_764_700_000_000)
            .header("seq", seq.to_string().as_bytes())
            .finish();
    }
    Ok(w.finish())
}

/// Per format and size: the input batch, and each value's average size in
/// and out (for the report).
struct Case {
    format: &'static str,
    size: usize,
    encoder: Encoder,
    input: Vec<u8>,
    bytes_in: f64,
    bytes_out: f64,
}

fn cases() -> Result<Vec<Case>> {
    let path = fixtures().join("order.avsc");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let avro = AvroSchema::parse(&text).map_err(|e| anyhow!(e))?;
    let mut out = Vec::new();
    for size in SIZES {
        for format in FORMATS {
            let encoder = Encoder::load(format)?;
            let input = batch(size, (format == "avro-binary").then_some(&avro))?;
            // Every value fits its format: the bench never times the error path.
            let mut buf = Vec::new();
            let (encoded, bytes_out) = encode_batch(&encoder, &input, &mut buf)
                .with_context(|| format!("{format} at {size} B"))?;
            let n = BatchReader::new(&encoded)
                .map_err(|e| anyhow!("{e}"))?
                .len();
            ensure!(n as usize == BATCH, "{format}: {n} records out of {BATCH}");
            let bytes_in: usize = BatchReader::new(&input)
                .map_err(|e| anyhow!("{e}"))?
                .filter_map(|r| r.ok().and_then(|r| r.value.map(<[u8]>::len)))
                .sum();
            out.push(Case {
                format,
                size,
                encoder,
                input,
                bytes_in: bytes_in as f64 / BATCH as f64,
                bytes_out: bytes_out as f64 / BATCH as f64,
            });
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let cases = cases()?;
    let mut g = c.benchmark_group("formats");
    g.throughput(Throughput::Elements(BATCH as u64));
    for case in &cases {
        let mut buf = Vec::with_capacity(case.size * 2);
        g.bench_with_input(
            BenchmarkId::new(case.format, case.size),
            &case.input,
            |b, input| b.iter(|| encode_batch(&case.encoder, input, &mut buf)),
        );
    }
    g.finish();
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        summary(&cases)?;
    }
    Ok(())
}

/// Writes `tests/bench-results/formats.json` from criterion's estimates.
fn summary(cases: &[Case]) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/formats");
    let mut rows = serde_json::Map::new();
    for case in cases {
        let p = root
            .join(case.format)
            .join(case.size.to_string())
            .join("new/estimates.json");
        let est: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?,
        )?;
        let point = |what: &str| {
            est[what]["point_estimate"]
                .as_f64()
                .map(|ns| (ns / BATCH as f64 * 10.0).round() / 10.0)
        };
        let row = rows
            .entry(case.format)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .context("a row is an object")?;
        row.insert(
            format!("{}B", case.size),
            json!({
                "ns_per_record": point("mean"),
                "ns_per_record_median": point("median"),
                "value_bytes_in": case.bytes_in,
                "value_bytes_out": case.bytes_out,
            }),
        );
    }
    let report = json!({
        "what": "per-record cost of each value format (tests/benches/formats.rs): a batch of 256 six-field orders encoded as the host's Codecs::encode does, schema id cached; criterion's mean and median per batch divided by 256",
        "command": "cargo bench -p streamplug-tests --bench formats",
        "schemas": "tests/fixtures/formats-bench (order.avsc, order.proto, order.schema.json)",
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg": streamplug_tests::loadavg(),
        "formats": rows,
        "note": "bytes is the batch rewrite alone (the pipeline skips the step for bytes); every other row includes it. Framed rows include the 5-byte Confluent frame (protobuf: and its message index)",
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results/formats.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("summary written to {}", out.display());
    Ok(())
}
