//! The `schema-registry` import of contract 0.2.0: a plugin's way to a
//! Schema Registry, through the host (plugins have no network).
//!
//! Without a `[schema_registry]` table every call is answered with an `err`
//! that says so, which the plugin can handle or return.

use super::bindings::v0_2::schema_registry::{Host, Schema};
use super::host::HostState;

/// Why every call fails when the host has no registry to ask.
pub const NOT_CONFIGURED: &str = "no [schema_registry] is configured";

impl Host for HostState {
    fn get_or_register(&mut self, subject: String, _schema: Schema) -> Result<u32, String> {
        Err(format!(
            "cannot register a schema under subject `{subject}`: {NOT_CONFIGURED}"
        ))
    }

    fn schema_by_id(&mut self, id: u32) -> Result<Schema, String> {
        Err(format!("cannot fetch schema id {id}: {NOT_CONFIGURED}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Capabilities;
    use crate::plugin::bindings::v0_2::schema_registry::SchemaType;

    #[test]
    fn without_a_registry_every_call_says_none_is_configured() {
        let mut host =
            HostState::new(Default::default(), 1 << 20, &Capabilities::default()).unwrap();
        let schema = Schema {
            schema_type: SchemaType::Avro,
            text: r#"{"type":"string"}"#.into(),
        };
        let err = host
            .get_or_register("orders-value".into(), schema)
            .unwrap_err();
        assert_eq!(
            err,
            "cannot register a schema under subject `orders-value`: no [schema_registry] is configured"
        );
        let err = host.schema_by_id(7).unwrap_err();
        assert_eq!(
            err,
            "cannot fetch schema id 7: no [schema_registry] is configured"
        );
    }
}
