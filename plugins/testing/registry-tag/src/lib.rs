//! Uses the SDK's `schema_registry`: at `init` it registers config `schema`
//! (Avro, JSON text) under config `subject` and fetches it back by the id it
//! got; each record passes unchanged with headers `schema-id` (the id in
//! ASCII decimal) and `schema-text` (what the registry has under that id).
//! An error from either call is `init`'s error.

use streamplug_sdk::schema_registry::{self, Schema, SchemaType};
use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

struct RegistryTag {
    id: String,
    text: String,
}

impl Transform for RegistryTag {
    fn init(config: Config) -> Result<Self, String> {
        let subject = config.get("subject").ok_or("config `subject` is missing")?;
        let text = config.get("schema").ok_or("config `schema` is missing")?;
        let id = schema_registry::get_or_register(subject, &Schema::new(SchemaType::Avro, text))?;
        let back = schema_registry::schema_by_id(id)?;
        if back.schema_type != SchemaType::Avro {
            return Err(format!("schema {id} is {:?}, not Avro", back.schema_type));
        }
        Ok(RegistryTag {
            id: id.to_string(),
            text: back.text,
        })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        let headers: [(&str, &[u8]); 2] = [
            ("schema-id", self.id.as_bytes()),
            ("schema-text", self.text.as_bytes()),
        ];
        input.for_each(|r| out.push_with(&r, None, &headers));
        Ok(())
    }
}

streamplug_sdk::export_transform!(RegistryTag);
