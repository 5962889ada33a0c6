//! `datagen`: a source plugin that generates deterministic records, for load
//! tests and end-to-end tests.
//!
//! # Config
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `count` | unlimited | records to make; then the source is finished |
//! | `rate` | 0 | records per second; 0 = as fast as the host asks |
//! | `value_size` | 100 | value length in bytes (`json`: at least the JSON's length) |
//! | `key_cardinality` | 1000 | number of distinct keys; 0 = no key |
//! | `start` | 0 | sequence number of the first record |
//! | `format` | `bytes` | `bytes`, `json` or `random` |
//! | `timestamp` | `now` | `now` (wall clock ms), `none`, or an integer `B` |
//!
//! Unknown keys are an error.
//!
//! # The record for sequence number `seq`
//!
//! Records are numbered `start, start + 1, ...`, and record `seq` is:
//!
//! - **key**: `format!("key-{}", seq % key_cardinality)`; no key if `key_cardinality` is 0.
//! - **value**, `format = "bytes"`: `value_size` bytes, `value[i] = b'a' + ((seq + i) % 26) as u8`.
//! - **value**, `format = "random"`: `value_size` bytes of the splitmix64 stream
//!   seeded with `seq` (state `s = seq`; per 8 bytes `s += 0x9E3779B97F4A7C15`,
//!   `z = s; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) *
//!   0x94D049BB133111EB; z ^= z >> 31`, written little-endian, the last word cut
//!   short): incompressible, different for every record.
//! - **value**, `format = "json"`: `{"seq":<seq>,"kind":"<k>","pad":"<p>"}` where
//!   `k = ["click", "view", "buy"][seq % 3]` and `p` is `x` repeated so the value is
//!   exactly `value_size` bytes long (no padding if it is already as long or longer).
//! - **timestamp**: `now`: the wall clock in ms, read once per poll (a batch shares one);
//!   `none`: no timestamp (the producer stamps it); integer `B`: `B + seq`.
//! - **headers**: exactly one, `seq` = `seq` in ASCII decimal.
//! - no topic, no partition.
//!
//! [`expected_record`] computes the same record the slow, obvious way, for tests.
//!
//! # Pacing
//!
//! With `rate` set, record number `n` (counting from 0 in this instance) is
//! due `n / rate` seconds after the first poll; a poll returns the records
//! due so far (at most `max-records`) or, if none is due, `idle` for the
//! milliseconds until the next one. After `count` records the source is
//! finished.
//!
//! # Checkpoints
//!
//! The checkpoint is the number of records made so far. An instance that
//! takes over (after a restart or a hot swap) continues with the next
//! sequence number; its pacing starts afresh.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

/// `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bytes,
    Json,
    Random,
}

/// `timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    Now,
    None,
    Base(i64),
}

/// The parsed configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub count: Option<u64>,
    pub rate: f64,
    pub value_size: usize,
    pub key_cardinality: u64,
    pub start: u64,
    pub format: Format,
    pub timestamp: Timestamp,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            count: None,
            rate: 0.0,
            value_size: 100,
            key_cardinality: 1000,
            start: 0,
            format: Format::Bytes,
            timestamp: Timestamp::Now,
        }
    }
}

impl Params {
    pub const KEYS: &[&str] = &[
        "count",
        "rate",
        "value_size",
        "key_cardinality",
        "start",
        "format",
        "timestamp",
    ];

    pub fn from_config(config: &Config) -> Result<Self, String> {
        config.deny_unknown(Self::KEYS)?;
        let d = Params::default();
        let rate: f64 = config.parse("rate", d.rate)?;
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(format!(
                "config `rate`: must be a finite number >= 0 (got {rate})"
            ));
        }
        let format = match config.get("format").unwrap_or("bytes") {
            "bytes" => Format::Bytes,
            "json" => Format::Json,
            "random" => Format::Random,
            other => {
                return Err(format!(
                    "config `format`: expected `bytes`, `json` or `random` (got {other:?})"
                ));
            }
        };
        let timestamp = match config.get("timestamp").unwrap_or("now") {
            "now" => Timestamp::Now,
            "none" => Timestamp::None,
            base => Timestamp::Base(base.parse().map_err(|e| {
                format!(
                    "config `timestamp`: expected `now`, `none` or an integer: {e} (got {base:?})"
                )
            })?),
        };
        Ok(Params {
            count: config.parse_opt("count")?,
            rate,
            value_size: config.parse("value_size", d.value_size)?,
            key_cardinality: config.parse("key_cardinality", d.key_cardinality)?,
            start: config.parse("start", d.start)?,
            format,
            timestamp,
        })
    }
}

/// A record as [`expected_record`] computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRecord {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// `None` for `timestamp = none`, and for `now` (not predictable).
    pub timestamp: Option<i64>,
    /// The one header, `seq`.
    pub seq_header: Vec<u8>,
}

const KINDS: [&str; 3] = ["click", "view", "buy"];

/// The record for `seq`, computed straight from the formulas in the crate doc.
pub fn expected_record(params: &Params, seq: u64) -> ExpectedRecord {
    let key = (params.key_cardinality != 0)
        .then(|| format!("key-{}", seq % params.key_cardinality).into_bytes());
    let value = match params.format {
        Format::Bytes => (0..params.value_size as u64)
            .map(|i| b'a' + ((seq + i) % 26) as u8)
            .collect(),
        Format::Json => {
            let bare = format!(
                r#"{{"seq":{seq},"kind":"{}","pad":""}}"#,
                KINDS[(seq % 3) as usize]
            );
            let pad = "x".repeat(params.value_size.saturating_sub(bare.len()));
            format!(
                r#"{{"seq":{seq},"kind":"{}","pad":"{pad}"}}"#,
                KINDS[(seq % 3) as usize]
            )
            .into_bytes()
        }
        Format::Random => {
            let mut v = Vec::new();
            random_value(seq, params.value_size, &mut v);
            v
        }
    };
    let timestamp = match params.timestamp {
        Timestamp::Base(b) => Some(b.wrapping_add(seq as i64)),
        Timestamp::Now | Timestamp::None => None,
    };
    ExpectedRecord {
        key,
        value,
        timestamp,
        seq_header: seq.to_string().into_bytes(),
    }
}

/// `size` bytes of the splitmix64 stream seeded with `seq`, into `out`
/// (cleared first).
pub fn random_value(seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    let mut state = seq;
    while out.len() < size {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let take = (size - out.len()).min(8);
        out.extend_from_slice(&z.to_le_bytes()[..take]);
    }
}

/// Writes `n` in ASCII decimal at the end of `buf`; returns where it starts.
#[inline]
fn write_decimal(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// Encodes records by the formulas, without allocating per record.
pub struct Generator {
    params: Params,
    /// `b'a' + (j % 26)` for `j` in `0..value_size + 26`: the value of `seq`
    /// is the slice starting at `seq % 26`.
    pattern: Vec<u8>,
    /// `value_size` bytes of `x`, for JSON padding.
    padding: Vec<u8>,
    /// The JSON value being built.
    json: Vec<u8>,
}

impl Generator {
    pub fn new(params: Params) -> Self {
        let (pattern, padding) = match params.format {
            Format::Bytes => (
                (0..params.value_size + 26)
                    .map(|j| b'a' + (j % 26) as u8)
                    .collect(),
                Vec::new(),
            ),
            Format::Json => (Vec::new(), vec![b'x'; params.value_size]),
            Format::Random => (Vec::new(), Vec::new()),
        };
        let json = Vec::with_capacity(params.value_size.max(64));
        Generator {
            params,
            pattern,
            padding,
            json,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Appends record `seq` to `out`; `now_ms` is its timestamp when `timestamp = now`.
    #[inline]
    pub fn write(&mut self, seq: u64, now_ms: i64, out: &mut BatchWriter) {
        let p = &self.params;
        let mut seq_buf = [0u8; 20];
        let seq_at = write_decimal(seq, &mut seq_buf);
        let seq_digits = &seq_buf[seq_at..];

        let value: &[u8] = match p.format {
            Format::Bytes => {
                let from = (seq % 26) as usize;
                &self.pattern[from..from + p.value_size]
            }
            Format::Json => {
                let json = &mut self.json;
                json.clear();
                json.extend_from_slice(br#"{"seq":"#);
                json.extend_from_slice(seq_digits);
                json.extend_from_slice(br#","kind":""#);
                json.extend_from_slice(KINDS[(seq % 3) as usize].as_bytes());
                json.extend_from_slice(br#"","pad":""#);
                let pad = p.value_size.saturating_sub(json.len() + 2);
                json.extend_from_slice(&self.padding[..pad]);
                json.extend_from_slice(br#""}"#);
                json
            }
            Format::Random => {
                random_value(seq, p.value_size, &mut self.json);
                &self.json
            }
        };

        let mut key_buf = [0u8; 24];
        let mut b = out.record().value(value);
        if p.key_cardinality != 0 {
            let mut digits = [0u8; 20];
            let at = write_decimal(seq % p.key_cardinality, &mut digits);
            let n = digits.len() - at;
            key_buf[..4].copy_from_slice(b"key-");
            key_buf[4..4 + n].copy_from_slice(&digits[at..]);
            b = b.key(&key_buf[..4 + n]);
        }
        match p.timestamp {
            Timestamp::Now => b = b.timestamp(now_ms),
            Timestamp::None => {}
            Timestamp::Base(base) => b = b.timestamp(base.wrapping_add(seq as i64)),
        }
        b.header("seq", seq_digits).finish();
    }
}

/// The source: a [`Generator`] plus pacing and the `count` limit.
pub struct Datagen {
    generator: Generator,
    /// Records made, by this instance and those it took over from.
    made: u64,
    /// `made` when this instance took over: pacing counts from here.
    made_before: u64,
    /// When the first poll happened (the schedule's origin, with `rate`).
    started: Option<Instant>,
}

impl Datagen {
    pub fn new(params: Params) -> Self {
        Datagen {
            generator: Generator::new(params),
            made: 0,
            made_before: 0,
            started: None,
        }
    }

    /// [`Source::poll`] at time `now`; `wall_ms` reads the wall clock (once, if needed).
    pub fn poll_at(
        &mut self,
        now: Instant,
        wall_ms: impl FnOnce() -> i64,
        max_records: u32,
        out: &mut BatchWriter,
    ) -> Poll {
        let p = self.generator.params();
        let mut n = u64::from(max_records);
        if let Some(count) = p.count {
            let left = count.saturating_sub(self.made);
            if left == 0 {
                return Poll::Finished;
            }
            n = n.min(left);
        }
        if p.rate > 0.0 {
            let elapsed = now.duration_since(*self.started.get_or_insert(now));
            // Record i is due at i / rate seconds: floor(elapsed * rate) + 1 are due now.
            let due = (elapsed.as_secs_f64() * p.rate) as u64 + 1;
            let made_here = self.made - self.made_before;
            let allowed = due.saturating_sub(made_here);
            if allowed == 0 {
                let next_due_ns = (made_here as f64 * 1e9 / p.rate).ceil() as u128;
                let wait_ns = next_due_ns.saturating_sub(elapsed.as_nanos());
                let wait_ms = wait_ns.div_ceil(1_000_000).clamp(1, u128::from(u32::MAX));
                return Poll::Idle(wait_ms as u32);
            }
            n = n.min(allowed);
        }
        let now_ms = if p.timestamp == Timestamp::Now {
            wall_ms()
        } else {
            0
        };
        let first = p.start.wrapping_add(self.made);
        // Within the poll's byte budget too: large values make small batches.
        let mut made = 0;
        while made < n && !out.is_full() {
            self.generator.write(first.wrapping_add(made), now_ms, out);
            made += 1;
        }
        self.made += made;
        match self.generator.params().count {
            Some(count) if self.made >= count => Poll::Finished,
            _ => Poll::Ready,
        }
    }
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Source for Datagen {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Datagen::new(Params::from_config(&config)?))
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        Ok(self.poll_at(Instant::now(), wall_clock_ms, max_records, out))
    }

    /// How many records have been made: a new instance continues with the
    /// next sequence number (and, with `count`, makes only the rest).
    fn checkpoint(&self) -> Option<Vec<u8>> {
        Some(self.made.to_le_bytes().to_vec())
    }

    fn resume(&mut self, checkpoint: &[u8]) -> Result<(), String> {
        let made: [u8; 8] = checkpoint
            .try_into()
            .map_err(|_| format!("expected 8 bytes, got {}", checkpoint.len()))?;
        self.made = u64::from_le_bytes(made);
        self.made_before = self.made;
        Ok(())
    }
}

streamplug_sdk::export_source!(Datagen);

#[cfg(test)]
mod tests;
