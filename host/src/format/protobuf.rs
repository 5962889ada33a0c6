//! Protobuf values: a plugin's JSON (protobuf's JSON mapping) parsed into
//! the configured message, checked field by field, and written as protobuf
//! binary. The `.proto` file is compiled at startup (imports are looked up
//! beside it, and Google's well-known types are built in).
//!
//! In the Confluent wire format a protobuf value names its message by its
//! indexes in the file (first top-level message `[0]`, its second nested
//! message `[0, 1]`); those follow the schema id.

use std::path::Path;

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// A compiled `.proto` file and the message values are made of.
pub struct ProtoSchema {
    message: MessageDescriptor,
    /// The message's indexes in its file, Confluent-encoded (varint count
    /// then zigzag varints; the single `[0]` as one 0 byte).
    pub indexes: Vec<u8>,
    /// The message's full name, for the record_name subject strategies.
    pub full_name: String,
    /// The `.proto` file's text as given, what is registered.
    pub text: String,
}

impl ProtoSchema {
    /// Compiles `file` (imports resolved in its folder) and finds `message`
    /// (its full name, `package.Message`).
    pub fn load(file: &Path, message: &str) -> Result<Self, String> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = file
            .file_name()
            .ok_or_else(|| format!("{} is not a file", file.display()))?;
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let mut compiler =
            protox::Compiler::new([dir]).map_err(|e| format!("{}: {e}", file.display()))?;
        compiler
            .open_file(name)
            .map_err(|e| format!("{}: not a valid .proto file: {e}", file.display()))?;
        let pool = compiler.descriptor_pool();
        let descriptor = pool.get_message_by_name(message).ok_or_else(|| {
            let known: Vec<String> = pool
                .all_messages()
                .filter(|m| m.parent_file().name() == name.to_string_lossy())
                .map(|m| m.full_name().to_string())
                .collect();
            format!(
                "{}: no message `{message}` (the file has {})",
                file.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?;
        if descriptor.parent_file().name() != name.to_string_lossy() {
            return Err(format!(
                "{}: message `{message}` is in the imported file {}, not in this one",
                file.display(),
                descriptor.parent_file().name()
            ));
        }
        Ok(Self {
            indexes: encode_indexes(&message_indexes(&descriptor)),
            full_name: descriptor.full_name().to_string(),
            message: descriptor,
            text,
        })
    }

    /// Encodes the JSON text `input` as the message's protobuf binary,
    /// appended to `out`. Errors name the field path (`$.items[2].sku`).
    pub fn encode_json(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut json = serde_json::Deserializer::from_slice(input);
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
        let message = match DynamicMessage::deserialize(self.message.clone(), tracked) {
            Ok(m) => m,
            Err(e) => {
                return Err(format!(
                    "{}: {}",
                    json_path(&track.path()),
                    without_position(&e)
                ));
            }
        };
        json.end()
            .map_err(|e| format!("$: {}", without_position(&e)))?;
        message
            .encode(out)
            .map_err(|e| format!("$: cannot encode: {e}"))
    }
}

/// The message's path of indexes from its file's top level.
fn message_indexes(m: &MessageDescriptor) -> Vec<i64> {
    let mut path = Vec::new();
    let mut at = Some(m.clone());
    while let Some(m) = at {
        let parent = m.parent_message();
        let siblings: Vec<MessageDescriptor> = match &parent {
            Some(p) => p.child_messages().collect(),
            None => m.parent_file().messages().collect(),
        };
        let i = siblings
            .iter()
            .position(|s| s.full_name() == m.full_name())
            .unwrap_or(0);
        path.push(i as i64);
        at = parent;
    }
    path.reverse();
    path
}

/// Confluent's message-index list: its length then each index, all zigzag
/// varints; the common `[0]` is written as a lone 0.
pub fn encode_indexes(indexes: &[i64]) -> Vec<u8> {
    if indexes == [0] {
        return vec![0];
    }
    let mut out = Vec::new();
    zigzag_varint(indexes.len() as i64, &mut out);
    for i in indexes {
        zigzag_varint(*i, &mut out);
    }
    out
}

fn zigzag_varint(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// `$`, `$.a.b` or `$.items[2]`.
fn json_path(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." {
        "$".into()
    } else if s.starts_with('[') {
        format!("${s}")
    } else {
        format!("$.{s}")
    }
}

/// serde_json's message without " at line 1 column 17": the path says where.
fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rsplit_once(" at line ") {
        Some((msg, _)) => msg.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"
syntax = "proto3";
package shop;
message Order {
  int64 id = 1;
  string customer = 2;
  repeated Item items = 3;
  Status status = 4;
  message Item {
    string sku = 1;
    int32 quantity = 2;
  }
}
enum Status { NEW = 0; PAID = 1; }
message Refund { int64 order = 1; }
"#;

    fn schema(message: &str) -> ProtoSchema {
        // One directory per call: the tests run in parallel, and a file
        // rewritten by one while another reads it reads as empty.
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("streamplug-proto-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("order.proto"), ORDER).unwrap();
        ProtoSchema::load(&dir.join("order.proto"), message).unwrap()
    }

    #[test]
    fn json_becomes_the_message_and_decodes_back() {
        let s = schema("shop.Order");
        let mut out = Vec::new();
        s.encode_json(
            br#"{"id": 7, "customer": "ada", "items": [{"sku": "a1", "quantity": 2}], "status": "PAID"}"#,
            &mut out,
        )
        .unwrap();
        let back = DynamicMessage::decode(s.message.clone(), &out[..]).unwrap();
        let json = serde_json::to_value(&back).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "7", "customer": "ada", "items": [{"sku": "a1", "quantity": 2}], "status": "PAID"})
        );
    }

    #[test]
    fn a_mismatch_names_the_field_path() {
        let s = schema("shop.Order");
        let mut out = Vec::new();
        let err = s
            .encode_json(
                br#"{"id": 7, "items": [{"sku": "a1"}, {"quantity": "two"}]}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(err.starts_with("$.items[1].quantity: "), "{err}");
        // An unknown field is found at the object that holds it.
        let err = s
            .encode_json(br#"{"items": [{"skuu": 7}]}"#, &mut out)
            .unwrap_err();
        assert_eq!(err, "$.items[0]: unrecognized field name 'skuu'");
        let err = s
            .encode_json(br#"{"status": "LOST"}"#, &mut out)
            .unwrap_err();
        assert!(err.starts_with("$.status: "), "{err}");
        let err = s.encode_json(br#"{"id": 1} x"#, &mut out).unwrap_err();
        assert!(err.starts_with("$: trailing characters"), "{err}");
    }

    #[test]
    fn message_indexes_follow_confluent() {
        assert_eq!(schema("shop.Order").indexes, vec![0]);
        // Refund is the second top-level message: count 1, index 1.
        assert_eq!(schema("shop.Refund").indexes, vec![2, 2]);
        // Order.Item: count 2, indexes 0 and 0.
        assert_eq!(schema("shop.Order.Item").indexes, vec![4, 0, 0]);
        assert_eq!(encode_indexes(&[0, 70]), vec![4, 0, 0x8c, 0x01]);
    }

    #[test]
    fn an_unknown_message_names_what_the_file_has() {
        let dir = std::env::temp_dir().join(format!("streamplug-proto-x-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("order.proto"), ORDER).unwrap();
        let err = ProtoSchema::load(&dir.join("order.proto"), "shop.Ordr")
            .err()
            .unwrap();
        assert!(err.contains("no message `shop.Ordr`"), "{err}");
        assert!(err.contains("shop.Refund"), "{err}");
    }
}
