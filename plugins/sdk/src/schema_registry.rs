//! The host's Schema Registry (the contract's `schema-registry` import): a
//! plugin gets the id of a schema under a subject, registering it if the
//! subject does not have it yet, and the schema behind a record's id. The
//! plugin has no network of its own; the host asks the registry in its
//! `[schema_registry]` table and caches the answers, so calling these for
//! every batch is cheap.
//!
//! ```no_run
//! use streamplug_sdk::schema_registry::{self, Schema, SchemaType};
//!
//! let schema = Schema::new(SchemaType::Avro, r#"{"type": "string"}"#);
//! let id = schema_registry::get_or_register("orders-value", &schema)?;
//! let again = schema_registry::schema_by_id(id)?;
//! # Ok::<(), String>(())
//! ```
//!
//! Errors are the host's words: no `[schema_registry]` configured, the
//! registry unreachable, a schema it refuses (with its reason), an id it does
//! not know. Natively (unit tests) there is no host: every call fails.

/// The schema languages of Confluent's Schema Registry (WIT `schema-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SchemaType {
    Avro = 0,
    Protobuf = 1,
    Json = 2,
}

/// A schema and its language (WIT `schema`): Avro and JSON Schema as JSON
/// text, Protobuf as a `.proto` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub text: String,
}

impl Schema {
    pub fn new(schema_type: SchemaType, text: impl Into<String>) -> Self {
        Schema {
            schema_type,
            text: text.into(),
        }
    }
}

/// The registry-wide id of `schema` under `subject`, registered as the
/// subject's next version if it is not there yet (Confluent:
/// `POST /subjects/{subject}/versions`).
pub fn get_or_register(subject: &str, schema: &Schema) -> Result<u32, String> {
    imp::get_or_register(subject, schema)
}

/// The schema registered under `id` (Confluent: `GET /schemas/ids/{id}`).
pub fn schema_by_id(id: u32) -> Result<Schema, String> {
    imp::schema_by_id(id)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Schema, SchemaType};

    // The canonical ABI lowerings of the `streamplug:plugin/schema-registry`
    // import every world has (see log.rs for the pattern). Both results are
    // too wide for one core value, so the host writes them to a return area
    // whose address is the last parameter:
    // - `result<u32, string>`: tag (u8) at 0; ok: the id at 4; err: the
    //   string's pointer at 4 and length at 8.
    // - `result<schema, string>`: tag at 0; ok: schema-type (u8) at 4, the
    //   text's pointer at 8 and length at 12; err as above.
    // Strings the host returns live in memory it got from this module's
    // `cabi_realloc` (the plugin's generated bindings export it), allocated
    // with align 1 and exactly their length: owned by a `String` from here on.
    #[link(wasm_import_module = "streamplug:plugin/schema-registry@0.2.0")]
    unsafe extern "C" {
        #[link_name = "get-or-register"]
        fn host_get_or_register(
            subject: *const u8,
            subject_len: usize,
            schema_type: i32,
            text: *const u8,
            text_len: usize,
            ret: *mut u8,
        );
        #[link_name = "schema-by-id"]
        fn host_schema_by_id(id: i32, ret: *mut u8);
    }

    #[repr(C, align(4))]
    struct RetArea([u8; 16]);

    impl RetArea {
        fn u32_at(&self, at: usize) -> u32 {
            u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
        }

        /// Takes ownership of the string whose pointer is at `at`.
        ///
        /// # Safety
        /// The host wrote a string there that it allocated with this
        /// module's `cabi_realloc`.
        unsafe fn string_at(&self, at: usize) -> String {
            let ptr = self.u32_at(at) as usize as *mut u8;
            let len = self.u32_at(at + 4) as usize;
            // SAFETY: see the comment on the imports; the host checked UTF-8.
            unsafe { String::from_utf8_unchecked(Vec::from_raw_parts(ptr, len, len)) }
        }
    }

    pub fn get_or_register(subject: &str, schema: &Schema) -> Result<u32, String> {
        let mut ret = RetArea([0; 16]);
        // SAFETY: the pointers describe live strings the host copies before
        // returning; `ret` is a 4-aligned area large enough for the result.
        unsafe {
            host_get_or_register(
                subject.as_ptr(),
                subject.len(),
                schema.schema_type as i32,
                schema.text.as_ptr(),
                schema.text.len(),
                ret.0.as_mut_ptr(),
            );
            match ret.0[0] {
                0 => Ok(ret.u32_at(4)),
                _ => Err(ret.string_at(4)),
            }
        }
    }

    pub fn schema_by_id(id: u32) -> Result<Schema, String> {
        let mut ret = RetArea([0; 16]);
        // SAFETY: as above.
        unsafe {
            host_schema_by_id(id as i32, ret.0.as_mut_ptr());
            match ret.0[0] {
                0 => {
                    let schema_type = match ret.0[4] {
                        0 => SchemaType::Avro,
                        1 => SchemaType::Protobuf,
                        _ => SchemaType::Json,
                    };
                    Ok(Schema {
                        schema_type,
                        text: ret.string_at(8),
                    })
                }
                _ => Err(ret.string_at(4)),
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Schema;

    const NATIVE: &str = "no schema registry: natively (in unit tests) there is no host to ask";

    pub fn get_or_register(_subject: &str, _schema: &Schema) -> Result<u32, String> {
        Err(NATIVE.into())
    }

    pub fn schema_by_id(_id: u32) -> Result<Schema, String> {
        Err(NATIVE.into())
    }
}
