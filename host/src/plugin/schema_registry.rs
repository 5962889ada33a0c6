//! The `schema-registry` import of contract 0.2.0: a plugin's way to a
//! Schema Registry, through the host (plugins have no network), with the
//! same cached client the host's own formats use.
//!
//! Without a `[schema_registry]` table every call is answered with an `err`
//! that says so, which the plugin can handle or return.

use super::bindings::v0_2::schema_registry::{Host, Schema, SchemaType};
use super::host::HostState;
use crate::format::registry::SchemaKind;

/// Why every call fails when the host has no registry to ask.
pub const NOT_CONFIGURED: &str = "no [schema_registry] is configured";

fn kind(t: SchemaType) -> SchemaKind {
    match t {
        SchemaType::Avro => SchemaKind::Avro,
        SchemaType::Protobuf => SchemaKind::Protobuf,
        SchemaType::Json => SchemaKind::Json,
    }
}

fn schema_type(k: SchemaKind) -> SchemaType {
    match k {
        SchemaKind::Avro => SchemaType::Avro,
        SchemaKind::Protobuf => SchemaType::Protobuf,
        SchemaKind::Json => SchemaType::Json,
    }
}

impl Host for HostState {
    fn get_or_register(&mut self, subject: String, schema: Schema) -> Result<u32, String> {
        let Some(registry) = &self.registry else {
            return Err(format!(
                "cannot register a schema under subject `{subject}`: {NOT_CONFIGURED}"
            ));
        };
        registry
            .id_for(&subject, kind(schema.schema_type), &schema.text)
            .map_err(|e| format!("subject `{subject}`: {e}"))
    }

    fn schema_by_id(&mut self, id: u32) -> Result<Schema, String> {
        let Some(registry) = &self.registry else {
            return Err(format!("cannot fetch schema id {id}: {NOT_CONFIGURED}"));
        };
        registry
            .schema(id)
            .map(|(k, text)| Schema {
                schema_type: schema_type(k),
                text,
            })
            .map_err(|e| format!("schema id {id}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Capabilities;

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
