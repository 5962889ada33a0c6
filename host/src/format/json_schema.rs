//! JSON values checked against a JSON Schema (any draft the `jsonschema`
//! crate knows, picked by `$schema`, 2020-12 by default). References are
//! resolved only inside the schema: nothing is fetched over the network or
//! from other files.

use jsonschema::Validator;
use serde_json::Value as Json;

/// A compiled JSON Schema.
pub struct JsonSchema {
    validator: Validator,
    /// Its `title`, the subject of the record_name strategies.
    pub title: Option<String>,
    /// The schema's text as given, what is registered.
    pub text: String,
}

impl JsonSchema {
    pub fn parse(text: &str) -> Result<Self, String> {
        let schema: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("not a valid JSON Schema: {e}"))?;
        Ok(Self {
            validator,
            title: schema
                .get("title")
                .and_then(Json::as_str)
                .map(str::to_string),
            text: text.to_string(),
        })
    }

    /// Checks the JSON text `input`; the error gives the first failure's
    /// instance path and reason (`$.amount: "12x" is not of type "number"`)
    /// and how many more there are.
    pub fn check(&self, input: &[u8]) -> Result<(), String> {
        let value: Json =
            serde_json::from_slice(input).map_err(|e| format!("$: not valid JSON: {e}"))?;
        // The fast check first: most values pass.
        if self.validator.is_valid(&value) {
            return Ok(());
        }
        let mut errors = self.validator.iter_errors(&value);
        let Some(first) = errors.next() else {
            return Ok(());
        };
        let path = json_path(&value, first.instance_path().as_str());
        let more = errors.count();
        Err(match more {
            0 => format!("{path}: {first}"),
            n => format!("{path}: {first} (and {n} more)"),
        })
    }
}

/// A JSON Pointer (`/items/1/sku`) as `$.items[1].sku`: a segment is an
/// index where the instance has an array.
fn json_path(root: &Json, pointer: &str) -> String {
    let mut out = String::from("$");
    let mut at = Some(root);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Some(Json::Array(items)) => {
                out.push_str(&format!("[{segment}]"));
                at = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                out.push('.');
                out.push_str(&segment);
                at = other.and_then(|v| v.get(&segment));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "title": "shop.Order",
      "type": "object",
      "properties": {
        "amount": { "type": "number" },
        "items": { "type": "array", "items": {
          "type": "object",
          "properties": { "sku": { "type": "string" } },
          "required": ["sku"]
        } }
      },
      "required": ["amount"]
    }"#;

    #[test]
    fn errors_give_the_instance_path_and_reason() {
        let s = JsonSchema::parse(ORDER).unwrap();
        assert_eq!(s.title.as_deref(), Some("shop.Order"));
        s.check(br#"{"amount": 3, "items": [{"sku": "a"}]}"#)
            .unwrap();
        assert_eq!(
            s.check(br#"{"amount": "12x"}"#).unwrap_err(),
            r#"$.amount: "12x" is not of type "number""#
        );
        assert_eq!(
            s.check(br#"{"amount": 1, "items": [{"sku": "a"}, {"sku": 7}]}"#)
                .unwrap_err(),
            r#"$.items[1].sku: 7 is not of type "string""#
        );
        let e = s.check(br#"{"items": [{}]}"#).unwrap_err();
        assert!(e.ends_with("(and 1 more)"), "{e}");
        assert!(s.check(b"{").unwrap_err().starts_with("$: not valid JSON"));
    }

    #[test]
    fn a_schema_that_is_not_one_is_named() {
        let e = JsonSchema::parse(r#"{"type": 12}"#).err().unwrap();
        assert!(e.starts_with("not a valid JSON Schema"), "{e}");
    }
}
