//! `[schema_registry]` and the record formats of a source's keys and values.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::security::one_secret;
use crate::secrets::Secret;

/// `[schema_registry]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistryTable {
    /// The Confluent-compatible API's base, e.g.
    /// `http://host:8081` or Apicurio's `http://host:8080/apis/ccompat/v7`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the registry's certificate (https).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Register a source's schema (true) or only look it up (false).
    #[serde(default = "yes")]
    pub auto_register: bool,
    /// Encode with the latest schema registered under the subject instead
    /// of the configured one (needs `auto_register = false`).
    #[serde(default)]
    pub use_latest: bool,
    /// Per request; an unreachable registry is asked again until it answers.
    #[serde(default = "ten_seconds")]
    pub timeout_ms: u64,
}

fn yes() -> bool {
    true
}

fn ten_seconds() -> u64 {
    10_000
}

/// `[schema_registry]` with its secret and CA loaded.
#[derive(Debug, Clone)]
pub struct SchemaRegistryConfig {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_pem: Option<Vec<u8>>,
    pub auto_register: bool,
    pub use_latest: bool,
    pub timeout_ms: u64,
}

impl SchemaRegistryTable {
    /// Loads the password and CA; relative paths start at `base`.
    pub fn resolve(&self, base: &Path) -> Result<SchemaRegistryConfig, String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "field `url`: `{}` is not an http:// or https:// URL",
                self.url
            ));
        }
        let password = one_secret(
            "password",
            self.password.as_ref(),
            &self.password_env,
            &self.password_file,
            base,
        )?;
        if password.is_some() && self.username.is_none() {
            return Err("a password is given but no `username`".into());
        }
        if self.use_latest && self.auto_register {
            return Err("`use_latest = true` needs `auto_register = false`".into());
        }
        if self.timeout_ms == 0 {
            return Err("field `timeout_ms` must be above 0".into());
        }
        let ca_pem = self
            .ca_file
            .as_ref()
            .map(|p| {
                let path = base.join(p);
                std::fs::read(&path)
                    .map_err(|e| format!("field `ca_file`: cannot read {}: {e}", path.display()))
            })
            .transpose()?;
        Ok(SchemaRegistryConfig {
            url: self.url.clone(),
            username: self.username.clone(),
            password,
            ca_pem,
            auto_register: self.auto_register,
            use_latest: self.use_latest,
            timeout_ms: self.timeout_ms,
        })
    }
}

/// What a key or value is, and what the host makes of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Format {
    /// Passed on as it is.
    #[default]
    Bytes,
    /// Checked to be JSON (and, with `schema`, to match that JSON Schema
    /// file), passed on as it is: never framed, never registered.
    Json {
        #[serde(default)]
        schema: Option<PathBuf>,
    },
    /// JSON checked against a JSON Schema file; with a registry, the schema
    /// is registered (schemaType JSON) and values are framed.
    JsonSchema { schema: PathBuf },
    /// Avro, with a schema file; the plugin emits JSON (`input = "json"`,
    /// the default) or Avro binary (`input = "binary"`).
    Avro {
        schema: PathBuf,
        #[serde(default)]
        input: AvroInput,
    },
    /// Protobuf, with a `.proto` file and the full name of the message
    /// (`package.Message`); the plugin emits JSON (protobuf's JSON mapping).
    Protobuf { schema: PathBuf, message: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroInput {
    #[default]
    Json,
    Binary,
}

/// How a schema's subject is named in the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStrategy {
    /// `<topic>-value` / `<topic>-key`.
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}
