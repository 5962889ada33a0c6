//! `json-filter`: a transform that keeps (or drops) records by one top-level
//! field of their JSON value.
//!
//! # Config
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `field` | required | the top-level field of the JSON object in the value |
//! | `values` | required | comma-separated values to match (each trimmed; empty items ignored) |
//! | `action` | `keep` | `keep` records whose field is in `values`, or `drop` them |
//! | `header` | `json-filter` | name of the header added to kept records |
//! | `route_topic` | none | if set, kept records are routed to this topic |
//!
//! Unknown keys are an error.
//!
//! # Behaviour
//!
//! The field is rendered as a string to be compared: a string without its
//! quotes (escapes decoded), anything else as written in the JSON (`42`,
//! `1.50`, `true`, `null`, `{"a":1}`). If the field appears more than once, the
//! last one counts.
//!
//! A kept record gets one more header, named by `header`, whose value is the
//! rendered field, after its own headers; if `route_topic` is set its topic is
//! set to it. Everything else (key, value, timestamp, partition, other headers
//! in order) passes through unchanged.
//!
//! A record whose value is absent, is not a JSON object, or lacks the field is
//! dropped, whatever the action; each batch with such records logs one warning
//! with their number and the first reason.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Keep,
    Drop,
}

/// The set of `values`: a short list is scanned, a long one hashed.
enum Values {
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl Values {
    fn contains(&self, v: &str) -> bool {
        match self {
            Values::Few(list) => list.iter().any(|x| x == v),
            Values::Many(set) => set.contains(v),
        }
    }
}

pub struct JsonFilter {
    field: String,
    values: Values,
    action: Action,
    header: String,
    route_topic: Option<String>,
}

/// The value of `field` in the JSON object `value`, as its raw JSON text.
pub fn find_field<'v>(
    value: &'v [u8],
    field: &str,
) -> Result<Option<&'v RawValue>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(value);
    let found = de.deserialize_map(FindField { field })?;
    de.end()?;
    Ok(found)
}

/// Renders a field for comparison: strings unquoted, the rest as written.
pub fn render(raw: &RawValue) -> Cow<'_, str> {
    let text = raw.get();
    if text.starts_with('"') {
        if !text.contains('\\') {
            return Cow::Borrowed(&text[1..text.len() - 1]);
        }
        if let Ok(s) = serde_json::from_str::<String>(text) {
            return Cow::Owned(s);
        }
    }
    Cow::Borrowed(text)
}

struct FindField<'f> {
    field: &'f str,
}

impl<'de> Visitor<'de> for FindField<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_field) = map.next_key_seed(KeyIs(self.field))? {
            if is_field {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Deserializes a key to whether it equals the field name, without allocating.
struct KeyIs<'f>(&'f str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

impl Transform for JsonFilter {
    fn init(config: Config) -> Result<Self, String> {
        config.deny_unknown(&["field", "values", "action", "header", "route_topic"])?;
        let field = config.require("field")?.to_owned();
        let list: Vec<String> = config
            .require("values")?
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if list.is_empty() {
            return Err("config `values`: no values given".into());
        }
        let values = if list.len() <= 8 {
            Values::Few(list)
        } else {
            Values::Many(list.into_iter().collect())
        };
        let action = match config.get("action").unwrap_or("keep") {
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            other => {
                return Err(format!(
                    "config `action`: expected `keep` or `drop` (got {other:?})"
                ));
            }
        };
        let header = config.get("header").unwrap_or("json-filter").to_owned();
        if header.len() > usize::from(u16::MAX) {
            return Err("config `header`: name too long".into());
        }
        let route_topic = config.get("route_topic").map(str::to_owned);
        Ok(JsonFilter {
            field,
            values,
            action,
            header,
            route_topic,
        })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        let total = input.len();
        let mut unreadable = 0usize;
        let mut first_reason: Option<String> = None;
        for (i, record) in input.enumerate() {
            let found = match record.value {
                None => Err("no value".to_string()),
                Some(value) => match find_field(value, &self.field) {
                    Ok(Some(raw)) => Ok(raw),
                    Ok(None) => Err(format!("no field `{}`", self.field)),
                    Err(e) => Err(format!("not a JSON object: {e}")),
                },
            };
            let raw = match found {
                Ok(raw) => raw,
                Err(reason) => {
                    unreadable += 1;
                    first_reason.get_or_insert_with(|| format!("record {i}: {reason}"));
                    continue;
                }
            };
            let rendered = render(raw);
            let listed = self.values.contains(&rendered);
            if listed == (self.action == Action::Keep) {
                out.push_with(
                    &record,
                    self.route_topic.as_deref(),
                    &[(&self.header, rendered.as_bytes())],
                );
            }
        }
        if let Some(reason) = first_reason {
            streamplug_sdk::warn!(
                "dropped {unreadable} of {total} records without a readable `{}` (first: {reason})",
                self.field
            );
        }
        Ok(())
    }
}

streamplug_sdk::export_transform!(JsonFilter);

#[cfg(test)]
mod tests;
