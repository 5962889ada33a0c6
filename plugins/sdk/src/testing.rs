//! Unit tests of a plugin without WebAssembly (feature `testing`).
//!
//! [`TestSource`], [`TestTransform`] and [`TestPartitioner`] run a plugin's
//! trait implementation natively, through the same glue the exported
//! component uses: its records are encoded and decoded as they would cross
//! the plugin boundary, and a source is held to its record and byte budgets.
//! Records go in and come out as owned [`Record`]s.
//!
//! ```
//! use streamplug_sdk::testing::{Record, TestTransform};
//! use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};
//!
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn init(_: Config) -> Result<Self, String> {
//!         Ok(Upper)
//!     }
//!     fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
//!         for r in input {
//!             let value = r.value.unwrap_or_default().to_ascii_uppercase();
//!             out.record().value(&value).finish();
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut t = TestTransform::<Upper>::start(&[]).unwrap();
//! let out = t.process(&[Record::new().with_value("hi")]).unwrap();
//! assert_eq!(out[0].value_str(), Some("HI"));
//! ```

use crate::__private::{
    PartitionerDriver, PartitionerGlue, PollOutcome, SourceDriver, SourceGlue, TransformDriver,
    TransformGlue,
};
use crate::codec::BatchReader;
use crate::{BatchWriter, DeliveryReport, Partitioner, RecordRef, Source, Transform};

/// A record that owns its bytes. Absent fields are `None`, as in the batch
/// encoding (an absent key is not an empty key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Milliseconds since the Unix epoch; `None` lets the host set it.
    pub timestamp: Option<i64>,
    pub partition: Option<i32>,
    /// `None`: the source's topic.
    pub topic: Option<String>,
    /// In order; names may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(key.as_ref().to_vec());
        self
    }

    pub fn with_value(mut self, value: impl AsRef<[u8]>) -> Self {
        self.value = Some(value.as_ref().to_vec());
        self
    }

    pub fn with_timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Adds a header after those already there.
    pub fn with_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// The key as UTF-8, if it is set and valid.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value as UTF-8, if it is set and valid.
    pub fn value_str(&self) -> Option<&str> {
        self.value
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first header called `name`, as UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    fn from_ref(r: &RecordRef<'_>) -> Self {
        Self {
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            timestamp: r.timestamp,
            partition: r.partition,
            topic: r.topic.map(str::to_owned),
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
        }
    }
}

/// Encodes records as the host would send them.
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for r in records {
        let mut b = w.record();
        if let Some(k) = &r.key {
            b = b.key(k);
        }
        if let Some(v) = &r.value {
            b = b.value(v);
        }
        if let Some(t) = r.timestamp {
            b = b.timestamp(t);
        }
        if let Some(p) = r.partition {
            b = b.partition(p);
        }
        if let Some(t) = &r.topic {
            b = b.topic(t);
        }
        match r.headers.split_first() {
            None => b.finish(),
            Some(((name, value), rest)) => {
                let mut h = b.header(name, value);
                for (name, value) in rest {
                    h = h.header(name, value);
                }
                h.finish();
            }
        }
    }
    w.finish()
}

/// Decodes a batch a plugin returned; an error names the broken rule.
pub fn decode(batch: &[u8]) -> Result<Vec<Record>, String> {
    let reader = BatchReader::new(batch).map_err(|e| e.to_string())?;
    reader
        .map(|r| r.map(|r| Record::from_ref(&r)).map_err(|e| e.to_string()))
        .collect()
}

fn owned(config: &[(&str, &str)]) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What one poll of a [`TestSource`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    Records(Vec<Record>),
    /// Nothing now: poll again in about this many ms (0: the host's default).
    Idle(u32),
    Finished,
}

/// A [`Source`] driven as the host drives it.
pub struct TestSource<S> {
    driver: SourceDriver<S>,
    checkpoint: Option<Vec<u8>>,
}

impl<S: Source> TestSource<S> {
    /// `init` with this `config` table.
    pub fn start(config: &[(&str, &str)]) -> Result<Self, String> {
        Self::begin(config, None)
    }

    /// `init`, then `resume` from `checkpoint`, as after a restart.
    pub fn resume(config: &[(&str, &str)], checkpoint: &[u8]) -> Result<Self, String> {
        Self::begin(config, Some(checkpoint.to_vec()))
    }

    fn begin(config: &[(&str, &str)], checkpoint: Option<Vec<u8>>) -> Result<Self, String> {
        let mut driver = SourceDriver::new();
        driver.init(owned(config), checkpoint)?;
        Ok(Self {
            driver,
            checkpoint: None,
        })
    }

    /// One poll for at most `max_records` records, without a byte budget.
    pub fn poll(&mut self, max_records: u32) -> Result<Polled, String> {
        self.poll_within(max_records, u64::MAX)
    }

    /// One poll within a record and a byte budget. Writing past either is
    /// the error the host would see.
    pub fn poll_within(&mut self, max_records: u32, max_bytes: u64) -> Result<Polled, String> {
        Ok(match self.driver.poll(max_records, max_bytes)? {
            PollOutcome::Records(batch, checkpoint) => {
                self.checkpoint = checkpoint;
                Polled::Records(decode(&batch)?)
            }
            PollOutcome::Idle(ms) => Polled::Idle(ms),
            PollOutcome::Finished => Polled::Finished,
        })
    }

    /// Polls (up to 1024 records a call) until `n` records, or until the
    /// source is idle or finished: the records it made.
    pub fn take(&mut self, n: usize) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        while records.len() < n {
            let ask = (n - records.len()).min(1024) as u32;
            match self.poll(ask)? {
                Polled::Records(r) => records.extend(r),
                Polled::Idle(_) | Polled::Finished => break,
            }
        }
        Ok(records)
    }

    /// The checkpoint that came with the last batch.
    pub fn checkpoint(&self) -> Option<&[u8]> {
        self.checkpoint.as_deref()
    }

    /// Tells the source what became of its records ([`Source::delivered`]).
    pub fn deliver(&mut self, report: DeliveryReport) {
        self.driver.on_delivery(report.committed, report.failed);
    }
}

/// A [`Transform`] driven as the host drives it.
pub struct TestTransform<T> {
    driver: TransformDriver<T>,
}

impl<T: Transform> TestTransform<T> {
    pub fn start(config: &[(&str, &str)]) -> Result<Self, String> {
        let mut driver = TransformDriver::new();
        driver.init(owned(config))?;
        Ok(Self { driver })
    }

    /// One call of `process` with `input` as the batch.
    pub fn process(&mut self, input: &[Record]) -> Result<Vec<Record>, String> {
        decode(&self.driver.process(&encode(input))?)
    }
}

/// A [`Partitioner`] driven as the host drives it.
pub struct TestPartitioner<P> {
    driver: PartitionerDriver<P>,
}

impl<P: Partitioner> TestPartitioner<P> {
    pub fn start(config: &[(&str, &str)]) -> Result<Self, String> {
        let mut driver = PartitionerDriver::new();
        driver.init(owned(config))?;
        Ok(Self { driver })
    }

    /// The partition chosen for each record of `input`, in order.
    pub fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        input: &[Record],
    ) -> Result<Vec<u32>, String> {
        self.driver
            .partition(topic, partition_count, &encode(input))
    }
}
