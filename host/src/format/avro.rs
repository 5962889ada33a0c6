//! Avro values: a plugin's JSON checked against the schema and written as
//! Avro binary in one pass (so a mismatch names the field and the reason),
//! or a plugin's Avro binary checked by decoding it.
//!
//! JSON follows the schema loosely where that is unambiguous: a union takes
//! either Avro's `{"type": value}` form or a bare value that fits one of its
//! branches (tried in order), `bytes` and `fixed` take a string of code
//! points 0-255 (Avro's JSON encoding), logical types take their underlying
//! type (a `timestamp-millis` is a number).

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{Name, RecordSchema, ResolvedSchema};
use serde_json::Value as Json;

/// A parsed schema with its named types, ready to encode with.
pub struct AvroSchema {
    schema: Schema,
    names: HashMap<Name, Schema>,
    /// The record's full name, for the record_name subject strategies.
    pub full_name: Option<String>,
    /// The schema's text as given, what is registered.
    pub text: String,
}

impl AvroSchema {
    pub fn parse(text: &str) -> Result<Self, String> {
        let schema =
            Schema::parse_str(text).map_err(|e| format!("not a valid Avro schema: {e}"))?;
        let names = ResolvedSchema::try_from(&schema)
            .map_err(|e| format!("not a valid Avro schema: {e}"))?
            .get_names()
            .iter()
            .map(|(n, s)| (n.clone(), (*s).clone()))
            .collect();
        let full_name = match &schema {
            Schema::Record(RecordSchema { name, .. }) => Some(name.fullname(None)),
            _ => None,
        };
        Ok(Self {
            schema,
            names,
            full_name,
            text: text.to_string(),
        })
    }

    /// Avro's Parsing Canonical Form: equal for equal schemas.
    pub fn canonical(&self) -> String {
        self.schema.canonical_form()
    }

    /// Encodes the JSON text `input` as Avro binary, appended to `out`.
    pub fn encode_json(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let json: Json =
            serde_json::from_slice(input).map_err(|e| format!("$: not valid JSON: {e}"))?;
        let mut path = String::from("$");
        self.write(&self.schema, &json, &mut path, out)
    }

    /// Checks that `input` is one Avro binary datum of this schema, whole.
    pub fn check_binary(&self, input: &[u8]) -> Result<(), String> {
        let mut rest = input;
        apache_avro::from_avro_datum(&self.schema, &mut rest, None)
            .map_err(|e| format!("$: not Avro binary of the schema: {e}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "$: {} bytes left over after the Avro datum",
                rest.len()
            ));
        }
        Ok(())
    }

    fn write(
        &self,
        schema: &Schema,
        v: &Json,
        path: &mut String,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let wrong = |want: &str| Err(format!("{path}: expected {want}, got {}", shown(v)));
        match schema {
            Schema::Null => match v {
                Json::Null => Ok(()),
                _ => wrong("null"),
            },
            Schema::Boolean => match v {
                Json::Bool(b) => {
                    out.push(u8::from(*b));
                    Ok(())
                }
                _ => wrong("a boolean"),
            },
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                match v.as_i64().and_then(|n| i32::try_from(n).ok()) {
                    Some(n) => {
                        zigzag(i64::from(n), out);
                        Ok(())
                    }
                    None => wrong("a number (32-bit integer)"),
                }
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => match v.as_i64() {
                Some(n) => {
                    zigzag(n, out);
                    Ok(())
                }
                None => wrong("a number (64-bit integer)"),
            },
            Schema::Float => match v.as_f64() {
                // Avro floats are 32-bit: the narrowing is the format's.
                #[allow(clippy::cast_possible_truncation)]
                Some(f) => {
                    out.extend_from_slice(&(f as f32).to_le_bytes());
                    Ok(())
                }
                None => wrong("a number"),
            },
            Schema::Double => match v.as_f64() {
                Some(f) => {
                    out.extend_from_slice(&f.to_le_bytes());
                    Ok(())
                }
                None => wrong("a number"),
            },
            Schema::String | Schema::Uuid => match v {
                Json::String(s) => {
                    write_bytes(s.as_bytes(), out);
                    Ok(())
                }
                _ => wrong("a string"),
            },
            Schema::Bytes => match v.as_str().and_then(latin1) {
                Some(b) => {
                    write_bytes(&b, out);
                    Ok(())
                }
                None => wrong("a string of code points 0-255 (Avro bytes)"),
            },
            Schema::Fixed(f) => match v.as_str().and_then(latin1) {
                Some(b) if b.len() == f.size => {
                    out.extend_from_slice(&b);
                    Ok(())
                }
                _ => wrong(&format!("a string of {} code points 0-255 (fixed)", f.size)),
            },
            Schema::Enum(e) => match v
                .as_str()
                .and_then(|s| e.symbols.iter().position(|x| x == s))
            {
                Some(i) => {
                    zigzag(i as i64, out);
                    Ok(())
                }
                None => wrong(&format!("one of {:?}", e.symbols)),
            },
            Schema::Array(a) => {
                let Json::Array(items) = v else {
                    return wrong("an array");
                };
                if !items.is_empty() {
                    zigzag(items.len() as i64, out);
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        self.write(&a.items, item, path, out)?;
                        path.truncate(len);
                    }
                }
                out.push(0);
                Ok(())
            }
            Schema::Map(m) => {
                let Json::Object(entries) = v else {
                    return wrong("an object (map)");
                };
                if !entries.is_empty() {
                    zigzag(entries.len() as i64, out);
                    for (k, item) in entries {
                        write_bytes(k.as_bytes(), out);
                        let len = path.len();
                        push_field(path, k);
                        self.write(&m.types, item, path, out)?;
                        path.truncate(len);
                    }
                }
                out.push(0);
                Ok(())
            }
            Schema::Record(r) => self.write_record(r, v, path, out),
            Schema::Union(u) => self.write_union(u.variants(), v, path, out),
            Schema::Ref { name } => match self.names.get(name) {
                Some(s) => self.write(s, v, path, out),
                None => Err(format!("{path}: the schema names an unknown type `{name}`")),
            },
            other => Err(format!(
                "{path}: Avro type {other:?} cannot be written from JSON here"
            )),
        }
    }

    fn write_record(
        &self,
        r: &RecordSchema,
        v: &Json,
        path: &mut String,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let Json::Object(fields) = v else {
            return Err(format!(
                "{path}: expected an object (record {}), got {}",
                r.name.name,
                shown(v)
            ));
        };
        for f in &r.fields {
            let len = path.len();
            push_field(path, &f.name);
            match (fields.get(&f.name), &f.default) {
                (Some(x), _) => self.write(&f.schema, x, path, out)?,
                // A union's default is of its first branch (the Avro spec).
                (None, Some(d)) => match &f.schema {
                    Schema::Union(u) if !u.variants().is_empty() => {
                        zigzag(0, out);
                        self.write(&u.variants()[0], d, path, out)?;
                    }
                    s => self.write(s, d, path, out)?,
                },
                (None, None) => return Err(format!("{path}: missing (the field has no default)")),
            }
            path.truncate(len);
        }
        if let Some(extra) = fields.keys().find(|k| !r.lookup.contains_key(*k)) {
            let mut at = path.clone();
            push_field(&mut at, extra);
            return Err(format!("{at}: not a field of record {}", r.name.name));
        }
        Ok(())
    }

    fn write_union(
        &self,
        variants: &[Schema],
        v: &Json,
        path: &mut String,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        // Avro's own JSON form: {"branch name": value}.
        if let Json::Object(m) = v
            && m.len() == 1
            && let Some((k, inner)) = m.iter().next()
            && let Some(i) = variants.iter().position(|s| branch_name(s) == *k)
        {
            zigzag(i as i64, out);
            return self.write(&variants[i], inner, path, out);
        }
        let start = out.len();
        // A failed branch leaves the path where it failed: start again.
        let at = path.len();
        let mut first_error = None;
        for (i, s) in variants.iter().enumerate() {
            zigzag(i as i64, out);
            match self.write(s, v, path, out) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    out.truncate(start);
                    path.truncate(at);
                    first_error.get_or_insert(e);
                }
            }
        }
        let names: Vec<String> = variants.iter().map(branch_name).collect();
        Err(match (first_error, variants.len()) {
            // With one non-null branch, its own reason says most.
            (Some(e), 2) if matches!(variants[0], Schema::Null) => {
                let nonnull = self.write(&variants[1], v, path, &mut Vec::new()).err();
                nonnull.unwrap_or(e)
            }
            _ => format!(
                "{path}: expected one of the union's types {names:?}, got {}",
                shown(v)
            ),
        })
    }
}

/// A union branch's name in Avro's JSON form.
fn branch_name(s: &Schema) -> String {
    match s {
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        Schema::Ref { name } => name.fullname(None),
        Schema::Map(_) => "map".into(),
        Schema::Array(_) => "array".into(),
        other => {
            let kind = apache_avro::schema::SchemaKind::from(other);
            format!("{kind:?}").to_lowercase()
        }
    }
}

fn push_field(path: &mut String, name: &str) {
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(name);
    } else {
        path.push_str(&format!("[{}]", Json::String(name.to_string())));
    }
}

/// A JSON value as an error shows it: short, so that a huge value does not
/// fill the log.
fn shown(v: &Json) -> String {
    let s = match v {
        Json::Object(_) => "an object".to_string(),
        Json::Array(_) => "an array".to_string(),
        other => other.to_string(),
    };
    if s.len() > 60 {
        let cut = (0..=60).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// Avro's JSON encoding of bytes: each code point is one byte.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn zigzag(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    zigzag(b.len() as i64, out);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"id","type":"long"},
        {"name":"amount","type":"double"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"tags","type":{"type":"array","items":"string"}},
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
        {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
            {"name":"sku","type":"string"},{"name":"next","type":["null","Line"],"default":null}]}}}
    ]}"#;

    fn encode(json: &str) -> Result<Vec<u8>, String> {
        let s = AvroSchema::parse(ORDER).unwrap();
        let mut out = Vec::new();
        s.encode_json(json.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn json_is_written_as_the_avro_library_decodes_it() {
        use apache_avro::types::Value as V;
        let s = AvroSchema::parse(ORDER).unwrap();
        assert_eq!(s.full_name.as_deref(), Some("shop.Order"));
        let out = encode(
            r#"{"id":-3,"amount":12.5,"tags":["x","y"],"kind":"B",
                "lines":[{"sku":"s1","next":{"sku":"s2"}}]}"#,
        )
        .unwrap();
        let v = apache_avro::from_avro_datum(&s.schema, &mut &out[..], None).unwrap();
        let V::Record(fields) = v else {
            panic!("{v:?}")
        };
        assert_eq!(fields[0], ("id".into(), V::Long(-3)));
        assert_eq!(fields[1], ("amount".into(), V::Double(12.5)));
        assert_eq!(fields[2], ("note".into(), V::Union(0, Box::new(V::Null))));
        assert_eq!(
            fields[3],
            (
                "tags".into(),
                V::Array(vec![V::String("x".into()), V::String("y".into())])
            )
        );
        assert_eq!(fields[4], ("kind".into(), V::Enum(1, "B".into())));
        s.check_binary(&out).unwrap();
        assert!(s.check_binary(&out[..out.len() - 1]).is_err());
    }

    #[test]
    fn a_mismatch_names_the_field_and_the_reason() {
        let ok = r#""tags":[],"kind":"A","lines":[]"#;
        let e = encode(&format!(r#"{{"id":1,"amount":"12x",{ok}}}"#)).unwrap_err();
        assert_eq!(e, r#"$.amount: expected a number, got "12x""#);
        let e = encode(&format!(r#"{{"amount":1,{ok}}}"#)).unwrap_err();
        assert_eq!(e, "$.id: missing (the field has no default)");
        let e = encode(r#"{"id":1,"amount":1,"tags":[],"kind":"C","lines":[]}"#).unwrap_err();
        assert_eq!(e, r#"$.kind: expected one of ["A", "B"], got "C""#);
        let e = encode(
            r#"{"id":1,"amount":1,"tags":[],"kind":"A","lines":[{"sku":"a","next":{"sku":7}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e, "$.lines[0].next.sku: expected a string, got 7");
        let e = encode(&format!(r#"{{"id":1,"amount":1,"extra":0,{ok}}}"#)).unwrap_err();
        assert_eq!(e, "$.extra: not a field of record Order");
        let e = encode("{").unwrap_err();
        assert!(e.starts_with("$: not valid JSON"), "{e}");
    }
}
