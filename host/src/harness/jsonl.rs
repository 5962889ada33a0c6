//! Records as JSON lines, the format `streamplug test` reads and prints:
//!
//! ```json
//! {"topic":null,"partition":null,"timestamp":1700000000000,"key":"k","value":"v","headers":[{"name":"n","value":"1"}]}
//! ```
//!
//! A key, value or header value that is valid UTF-8 is written as a string
//! under its own name; other bytes are written in base64 under
//! `key_base64` or `value_base64` (in headers too), so the reader always
//! knows which. A missing field reads as absent (`null`), so printed lines can be
//! fed back in as `--input`.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use streamplug_codec::{BatchWriter, RecordRef};

/// One record read from a JSON line, owning its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedRecord {
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl OwnedRecord {
    /// Appends this record to a batch.
    pub fn write_to(&self, out: &mut BatchWriter) {
        let mut b = out.record();
        if let Some(k) = &self.key {
            b = b.key(k);
        }
        if let Some(v) = &self.value {
            b = b.value(v);
        }
        if let Some(t) = self.timestamp {
            b = b.timestamp(t);
        }
        if let Some(p) = self.partition {
            b = b.partition(p);
        }
        if let Some(t) = &self.topic {
            b = b.topic(t);
        }
        let mut headers = self.headers.iter();
        match headers.next() {
            None => b.finish(),
            Some((name, value)) => {
                let mut h = b.header(name, value);
                for (name, value) in headers {
                    h = h.header(name, value);
                }
                h.finish();
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRecord {
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    partition: Option<i32>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_base64: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    headers: Vec<JsonHeader>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHeader {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_base64: Option<String>,
}

/// Parses one JSON line. The error names the field at fault.
pub fn parse_line(line: &str) -> Result<OwnedRecord> {
    let r: JsonRecord = serde_json::from_str(line)?;
    let mut headers = Vec::with_capacity(r.headers.len());
    for h in r.headers {
        let what = format!("header `{}`", h.name);
        let value = bytes(&what, "value", h.value, h.value_base64)?.unwrap_or_default();
        headers.push((h.name, value));
    }
    Ok(OwnedRecord {
        topic: r.topic,
        partition: r.partition,
        timestamp: r.timestamp,
        key: bytes("the record", "key", r.key, r.key_base64)?,
        value: bytes("the record", "value", r.value, r.value_base64)?,
        headers,
    })
}

/// The bytes of a field given as text or as base64 (not both).
fn bytes(
    owner: &str,
    field: &str,
    text: Option<String>,
    base64: Option<String>,
) -> Result<Option<Vec<u8>>> {
    match (text, base64) {
        (Some(_), Some(_)) => {
            bail!("{owner} has both `{field}` and `{field}_base64`: give one")
        }
        (Some(t), None) => Ok(Some(t.into_bytes())),
        (None, Some(b)) => match BASE64.decode(b.as_bytes()) {
            Ok(v) => Ok(Some(v)),
            Err(e) => bail!("{owner}: `{field}_base64` is not valid base64: {e}"),
        },
        (None, None) => Ok(None),
    }
}

/// One record as a JSON line (without the newline). `partition` overrides
/// the record's own (a partitioner's choice).
pub fn to_line(record: &RecordRef<'_>, partition: Option<i32>) -> String {
    let mut s = String::with_capacity(64 + record.payload_len() * 4 / 3);
    s.push_str("{\"topic\":");
    s.push_str(&json(&record.topic));
    let _ = write!(
        s,
        ",\"partition\":{},\"timestamp\":{}",
        json(&partition.or(record.partition)),
        json(&record.timestamp)
    );
    s.push(',');
    bytes_field(&mut s, "key", record.key);
    s.push(',');
    bytes_field(&mut s, "value", record.value);
    s.push_str(",\"headers\":[");
    for (i, (name, value)) in record.headers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":");
        s.push_str(&json(&name));
        s.push(',');
        bytes_field(&mut s, "value", Some(value));
        s.push('}');
    }
    s.push_str("]}");
    s
}

/// `"field":"text"`, `"field_base64":"…"` or `"field":null`.
fn bytes_field(s: &mut String, field: &str, bytes: Option<&[u8]>) {
    match bytes.map(std::str::from_utf8) {
        None => {
            let _ = write!(s, "\"{field}\":null");
        }
        Some(Ok(text)) => {
            let _ = write!(s, "\"{field}\":{}", json(&text));
        }
        Some(Err(_)) => {
            let encoded = BASE64.encode(bytes.unwrap_or_default());
            let _ = write!(s, "\"{field}_base64\":\"{encoded}\"");
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    // Strings, numbers and null always serialize.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamplug_codec::BatchReader;

    fn round_trip(r: &OwnedRecord) -> String {
        let mut w = BatchWriter::new();
        r.write_to(&mut w);
        let batch = w.finish();
        let rec = BatchReader::new(&batch).unwrap().next().unwrap().unwrap();
        to_line(&rec, None)
    }

    #[test]
    fn text_and_binary_fields_say_which_they_are() {
        let r = OwnedRecord {
            topic: Some("t".into()),
            partition: Some(2),
            timestamp: Some(7),
            key: Some(b"k\"1".to_vec()),
            value: Some(vec![0xff, 0, 1]),
            headers: vec![("a".into(), b"1".to_vec()), ("b".into(), vec![0xfe])],
        };
        let line = round_trip(&r);
        assert_eq!(
            line,
            r#"{"topic":"t","partition":2,"timestamp":7,"key":"k\"1","value_base64":"/wAB","headers":[{"name":"a","value":"1"},{"name":"b","value_base64":"/g=="}]}"#
        );
        assert_eq!(parse_line(&line).unwrap(), r, "printed lines read back");
    }

    #[test]
    fn absent_fields_are_null_and_read_as_absent() {
        let line = round_trip(&OwnedRecord::default());
        assert_eq!(
            line,
            r#"{"topic":null,"partition":null,"timestamp":null,"key":null,"value":null,"headers":[]}"#
        );
        assert_eq!(parse_line("{}").unwrap(), OwnedRecord::default());
    }

    #[test]
    fn bad_lines_name_their_fault() {
        let e = parse_line(r#"{"vaule":"x"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `vaule`"), "{e}");
        let e = parse_line(r#"{"key":"a","key_base64":"YQ=="}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("both `key` and `key_base64`"), "{e}");
        let e = parse_line(r#"{"headers":[{"name":"h","value_base64":"%%"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("header `h`: `value_base64` is not valid base64"),
            "{e}"
        );
    }
}
