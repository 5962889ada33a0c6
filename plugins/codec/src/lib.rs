//! The streamplug batch encoding (`wit/ENCODING.md`), shared by the host and
//! the guest SDK so that both sides agree byte for byte.
//!
//! Reading borrows from the encoded bytes (no allocation per record);
//! writing appends to one growing buffer.

#![no_std]
extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

/// The encoding version this crate reads and writes.
pub const VERSION: u8 = 1;

const KEY: u8 = 0x01;
const VALUE: u8 = 0x02;
const TIMESTAMP: u8 = 0x04;
const PARTITION: u8 = 0x08;
const TOPIC: u8 = 0x10;
const KNOWN_FLAGS: u8 = KEY | VALUE | TIMESTAMP | PARTITION | TOPIC;
const BATCH_HEADER_LEN: usize = 5;

/// Why a batch could not be decoded: the rule it broke and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the batch where the problem was found.
    pub offset: usize,
    /// Index of the record being read, if the header was fine.
    pub record: Option<u32>,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    UnsupportedVersion(u8),
    Truncated {
        field: &'static str,
        needed: usize,
        left: usize,
    },
    ReservedFlags(u8),
    InvalidUtf8 {
        field: &'static str,
    },
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(i) => write!(f, "record {i} at byte {}: ", self.offset)?,
            None => write!(f, "batch header at byte {}: ", self.offset)?,
        }
        match &self.kind {
            DecodeErrorKind::UnsupportedVersion(v) => {
                write!(
                    f,
                    "encoding version {v} is not supported (expected {VERSION})"
                )
            }
            DecodeErrorKind::Truncated {
                field,
                needed,
                left,
            } => {
                write!(f, "truncated {field}: needs {needed} bytes, {left} left")
            }
            DecodeErrorKind::ReservedFlags(flags) => {
                write!(f, "reserved flag bits set (flags {flags:#04x})")
            }
            DecodeErrorKind::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            DecodeErrorKind::TrailingBytes(n) => {
                write!(f, "{n} bytes follow the last record")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// One record, borrowed from an encoded batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub timestamp: Option<i64>,
    pub partition: Option<i32>,
    pub topic: Option<&'a str>,
    pub headers: Headers<'a>,
    /// The record's own encoded bytes, so that passing it on is one copy.
    encoded: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// Bytes of payload this record carries: key, value, header names and
    /// values. The host meters quotas and in-flight caps with this figure.
    pub fn payload_len(&self) -> usize {
        self.key.map_or(0, <[u8]>::len)
            + self.value.map_or(0, <[u8]>::len)
            + self.headers.payload_len
    }

    /// Bytes this record takes in its batch.
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }
}

/// The headers of one record, in order; names may repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    count: u16,
    /// The encoded headers, already validated by the batch reader.
    bytes: &'a [u8],
    payload_len: usize,
}

impl<'a> Headers<'a> {
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            remaining: self.count,
            bytes: self.bytes,
        }
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = HeaderIter<'a>;
    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

pub struct HeaderIter<'a> {
    remaining: u16,
    bytes: &'a [u8],
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Lengths and UTF-8 were checked when the batch was read (`Headers`
        // only comes from a `BatchReader`), so no check is repeated here.
        let name_len = usize::from(u16::from_le_bytes([self.bytes[0], self.bytes[1]]));
        let (name, rest) = self.bytes[2..].split_at(name_len);
        // SAFETY: validated as UTF-8 by `BatchReader::read_record`.
        let name = unsafe { core::str::from_utf8_unchecked(name) };
        let value_len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let (value, rest) = rest[4..].split_at(value_len);
        self.bytes = rest;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (
            usize::from(self.remaining),
            Some(usize::from(self.remaining)),
        )
    }
}

/// Reads a batch: checks the header at once, then each record as it is read.
#[derive(Clone)]
pub struct BatchReader<'a> {
    cursor: Cursor<'a>,
    count: u32,
    read: u32,
    failed: bool,
}

impl<'a> BatchReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let header_err = |kind| DecodeError {
            offset: 0,
            record: None,
            kind,
        };
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(header_err(DecodeErrorKind::Truncated {
                field: "batch header",
                needed: BATCH_HEADER_LEN,
                left: 0,
            }));
        };
        if version != VERSION {
            return Err(header_err(DecodeErrorKind::UnsupportedVersion(version)));
        }
        let Some(count) = rest.get(..4) else {
            return Err(header_err(DecodeErrorKind::Truncated {
                field: "batch header",
                needed: BATCH_HEADER_LEN,
                left: bytes.len(),
            }));
        };
        let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
        Ok(Self {
            cursor: Cursor {
                bytes,
                pos: BATCH_HEADER_LEN,
                record: 0,
            },
            count,
            read: 0,
            failed: false,
        })
    }

    /// The number of records the header announces. (Not `count`, which
    /// would lose to `Iterator::count` in method resolution.)
    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reads every record, returning the first error if any.
    pub fn validate(self) -> Result<u32, DecodeError> {
        let count = self.count;
        for r in self {
            r?;
        }
        Ok(count)
    }

    fn read_record(&mut self) -> Result<RecordRef<'a>, DecodeError> {
        let c = &mut self.cursor;
        c.record = self.read;
        let record_start = c.pos;
        let flags = c.u8("flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(c.error(DecodeErrorKind::ReservedFlags(flags)));
        }
        let key = if flags & KEY != 0 {
            Some(c.len_prefixed_u32("key")?)
        } else {
            None
        };
        let value = if flags & VALUE != 0 {
            Some(c.len_prefixed_u32("value")?)
        } else {
            None
        };
        let timestamp = if flags & TIMESTAMP != 0 {
            Some(i64::from_le_bytes(c.array::<8>("timestamp")?))
        } else {
            None
        };
        let partition = if flags & PARTITION != 0 {
            Some(i32::from_le_bytes(c.array::<4>("partition")?))
        } else {
            None
        };
        let topic = if flags & TOPIC != 0 {
            let len = usize::from(c.u16("topic length")?);
            Some(c.utf8(len, "topic")?)
        } else {
            None
        };
        let count = c.u16("header count")?;
        let start = c.pos;
        let mut payload_len = 0;
        for _ in 0..count {
            let name_len = usize::from(c.u16("header name length")?);
            let name = c.utf8(name_len, "header name")?;
            let value = c.len_prefixed_u32("header value")?;
            payload_len += name.len() + value.len();
        }
        let headers = Headers {
            count,
            bytes: &c.bytes[start..c.pos],
            payload_len,
        };
        Ok(RecordRef {
            key,
            value,
            timestamp,
            partition,
            topic,
            headers,
            encoded: &c.bytes[record_start..c.pos],
        })
    }
}

impl<'a> Iterator for BatchReader<'a> {
    type Item = Result<RecordRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.read == self.count {
            let left = self.cursor.bytes.len() - self.cursor.pos;
            if left == 0 {
                return None;
            }
            self.failed = true;
            return Some(Err(self.cursor.error(DecodeErrorKind::TrailingBytes(left))));
        }
        let result = self.read_record();
        self.read += 1;
        self.failed = result.is_err();
        Some(result)
    }
}

#[derive(Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    record: u32,
}

impl<'a> Cursor<'a> {
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            record: Some(self.record),
            kind,
        }
    }

    #[inline]
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.error(DecodeErrorKind::Truncated {
                field,
                needed: n,
                left,
            }));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn len_prefixed_u32(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        self.take(len, field)
    }

    fn utf8(&mut self, len: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = self.take(len, field)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError {
            offset: at,
            record: Some(self.record),
            kind: DecodeErrorKind::InvalidUtf8 { field },
        })
    }
}

/// Builds an encoded batch by appending records to one buffer.
///
/// A writer may carry a budget (a source's `poll-records` asks for at most
/// so many records and bytes): [`BatchWriter::is_full`] says when to stop
/// adding records. The budget is advice to the code that fills the writer;
/// the writer itself never refuses a record.
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
    /// Where the last record started: the batch without it is this long.
    last_start: usize,
    max_records: u32,
    max_bytes: u64,
}

impl Default for BatchWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchWriter {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `bytes` is a hint for the encoded size, to avoid regrowing the buffer.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(BATCH_HEADER_LEN));
        buf.push(VERSION);
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self {
            buf,
            count: 0,
            last_start: BATCH_HEADER_LEN,
            max_records: u32::MAX,
            max_bytes: u64::MAX,
        }
    }

    /// A writer for a poll that asked for at most `max_records` records
    /// and `max_bytes` bytes.
    pub fn with_budget(capacity: usize, max_records: u32, max_bytes: u64) -> Self {
        Self {
            max_records,
            max_bytes,
            ..Self::with_capacity(capacity)
        }
    }

    /// True once the batch has its budget's records, or has reached its
    /// byte budget: add no more. Until then one more record of any size
    /// may be added, so a batch passes its byte budget by at most one
    /// record (and a record larger than the whole budget still goes, alone).
    pub fn is_full(&self) -> bool {
        self.count >= self.max_records
            || (self.count > 0 && self.buf.len() as u64 >= self.max_bytes)
    }

    /// Whether the batch keeps to its budget: at most `max_records`
    /// records, and without its last record below `max_bytes`.
    pub fn within_budget(&self) -> bool {
        self.count <= self.max_records
            && (self.count <= 1 || self.before_last_len() < self.max_bytes)
    }

    /// The record budget this writer was made with (`u32::MAX` if none).
    pub fn max_records(&self) -> u32 {
        self.max_records
    }

    /// The byte budget this writer was made with (`u64::MAX` if none).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn before_last_len(&self) -> u64 {
        self.last_start as u64
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size so far, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Starts a record; it is added when `finish` is called on the builder.
    pub fn record(&mut self) -> RecordBuilder<'_> {
        RecordBuilder {
            writer: self,
            key: None,
            value: None,
            timestamp: None,
            partition: None,
            topic: None,
        }
    }

    /// Appends a copy of a record read from another batch (one copy of its
    /// encoded bytes).
    pub fn push(&mut self, record: &RecordRef<'_>) {
        self.last_start = self.buf.len();
        self.buf.extend_from_slice(record.encoded);
        self.count += 1;
    }

    /// The encoded batch.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[1..BATCH_HEADER_LEN].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }

    /// Takes the encoded batch, leaving an empty writer in its place.
    pub fn take(&mut self) -> Vec<u8> {
        let fresh = Self::with_budget(0, self.max_records, self.max_bytes);
        core::mem::replace(self, fresh).finish()
    }
}

/// Sets the fields of one record; headers come last (see [`HeaderBuilder`]).
#[must_use = "a record is only added by `finish`"]
pub struct RecordBuilder<'w> {
    writer: &'w mut BatchWriter,
    key: Option<&'w [u8]>,
    value: Option<&'w [u8]>,
    timestamp: Option<i64>,
    partition: Option<i32>,
    topic: Option<&'w str>,
}

impl<'w> RecordBuilder<'w> {
    pub fn key(mut self, key: &'w [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// Omitting the value makes the record a tombstone.
    pub fn value(mut self, value: &'w [u8]) -> Self {
        self.value = Some(value);
        self
    }

    /// Milliseconds since the Unix epoch.
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Routes the record to another topic (one the plugin's config allows).
    ///
    /// # Panics
    /// If the name is longer than 65,535 bytes (Kafka allows 249).
    pub fn topic(mut self, topic: &'w str) -> Self {
        assert!(topic.len() <= usize::from(u16::MAX), "topic name too long");
        self.topic = Some(topic);
        self
    }

    /// Adds the first header; the record's other fields are fixed from here.
    pub fn header(self, name: &str, value: &[u8]) -> HeaderBuilder<'w> {
        self.start_headers().header(name, value)
    }

    /// Adds the record with no headers.
    pub fn finish(self) {
        self.start_headers().finish();
    }

    fn start_headers(self) -> HeaderBuilder<'w> {
        let flag = |present: bool, bit: u8| if present { bit } else { 0 };
        let flags = flag(self.key.is_some(), KEY)
            | flag(self.value.is_some(), VALUE)
            | flag(self.timestamp.is_some(), TIMESTAMP)
            | flag(self.partition.is_some(), PARTITION)
            | flag(self.topic.is_some(), TOPIC);
        self.writer.last_start = self.writer.buf.len();
        let buf = &mut self.writer.buf;
        buf.push(flags);
        for bytes in [self.key, self.value].into_iter().flatten() {
            buf.extend_from_slice(&len_u32(bytes.len()).to_le_bytes());
            buf.extend_from_slice(bytes);
        }
        if let Some(ts) = self.timestamp {
            buf.extend_from_slice(&ts.to_le_bytes());
        }
        if let Some(p) = self.partition {
            buf.extend_from_slice(&p.to_le_bytes());
        }
        if let Some(t) = self.topic {
            buf.extend_from_slice(&(t.len() as u16).to_le_bytes());
            buf.extend_from_slice(t.as_bytes());
        }
        let count_at = buf.len();
        buf.extend_from_slice(&0u16.to_le_bytes());
        HeaderBuilder {
            writer: self.writer,
            count_at,
            count: 0,
        }
    }
}

/// Appends headers to a record, then adds it to the batch with `finish`.
#[must_use = "a record is only added by `finish`"]
pub struct HeaderBuilder<'w> {
    writer: &'w mut BatchWriter,
    count_at: usize,
    count: u16,
}

impl HeaderBuilder<'_> {
    /// # Panics
    /// On more than 65,535 headers, or a name longer than 65,535 bytes.
    pub fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.count = self.count.checked_add(1).expect("more than 65535 headers");
        let name_len = u16::try_from(name.len()).expect("header name too long");
        let buf = &mut self.writer.buf;
        buf.extend_from_slice(&name_len.to_le_bytes());
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&len_u32(value.len()).to_le_bytes());
        buf.extend_from_slice(value);
        self
    }

    pub fn finish(self) {
        let at = self.count_at;
        self.writer.buf[at..at + 2].copy_from_slice(&self.count.to_le_bytes());
        self.writer.count += 1;
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("a key or value of 4 GiB or more cannot be encoded")
}

#[cfg(test)]
mod tests;
