//! A Schema Registry client (the Confluent REST API, which Apicurio serves
//! under `/apis/ccompat/v7`), with every answer cached: a subject's id is
//! asked once per schema, a schema once per id.
//!
//! Calls block: they are made from pipeline threads before a source's first
//! poll and from plugin imports, never from librdkafka's threads.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::json;

use crate::config::SchemaRegistryConfig;
use crate::secrets::Secret;

/// The kinds of schema a registry keeps (its `schemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    Avro,
    Protobuf,
    Json,
}

impl SchemaKind {
    fn wire_name(self) -> &'static str {
        match self {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Protobuf => "PROTOBUF",
            SchemaKind::Json => "JSON",
        }
    }

    fn from_wire(name: Option<&str>) -> Self {
        match name {
            Some("PROTOBUF") => SchemaKind::Protobuf,
            Some("JSON") => SchemaKind::Json,
            // The API leaves it out for Avro.
            _ => SchemaKind::Avro,
        }
    }
}

/// Why a registry call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Not reached, or it failed on its side (5xx): worth waiting for.
    Unreachable(String),
    /// It answered no (an incompatible or invalid schema, an unknown
    /// subject or id): waiting will not change the answer.
    Refused(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Unreachable(s) => write!(f, "schema registry unreachable: {s}"),
            RegistryError::Refused(s) => write!(f, "schema registry refused: {s}"),
        }
    }
}

type Key = (String, SchemaKind, String);

pub struct SchemaRegistry {
    url: String,
    username: Option<String>,
    password: Option<Secret>,
    ca_pem: Option<Vec<u8>>,
    timeout: Duration,
    pub auto_register: bool,
    pub use_latest: bool,
    /// Made on first use, on the thread that needs it.
    client: OnceLock<Result<Client, String>>,
    ids: Mutex<HashMap<Key, u32>>,
    schemas: Mutex<HashMap<u32, (SchemaKind, String)>>,
}

impl SchemaRegistry {
    pub fn new(config: &SchemaRegistryConfig) -> Self {
        Self {
            url: config.url.trim_end_matches('/').to_string(),
            username: config.username.clone(),
            password: config.password.clone(),
            ca_pem: config.ca_pem.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            auto_register: config.auto_register,
            use_latest: config.use_latest,
            client: OnceLock::new(),
            ids: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
        }
    }

    /// The id of `schema` under `subject`: registered (if auto_register) or
    /// looked up.
    pub fn id_for(
        &self,
        subject: &str,
        kind: SchemaKind,
        schema: &str,
    ) -> Result<u32, RegistryError> {
        let key = (subject.to_string(), kind, schema.to_string());
        if let Some(id) = lock(&self.ids).get(&key) {
            return Ok(*id);
        }
        let mut body = json!({ "schema": schema });
        if kind != SchemaKind::Avro {
            body["schemaType"] = json!(kind.wire_name());
        }
        let subject_path = encode_segment(subject);
        let answer = if self.auto_register {
            self.call(
                "POST",
                &format!("/subjects/{subject_path}/versions"),
                Some(&body),
            )?
        } else {
            self.call("POST", &format!("/subjects/{subject_path}"), Some(&body))?
        };
        let id = id_of(&answer)?;
        lock(&self.ids).insert(key, id);
        lock(&self.schemas).insert(id, (kind, schema.to_string()));
        Ok(id)
    }

    /// The id and text of the latest schema under `subject` (the use-latest
    /// mode: the host encodes with what is registered). Not cached: latest
    /// moves.
    pub fn latest(&self, subject: &str) -> Result<(u32, SchemaKind, String), RegistryError> {
        let subject_path = encode_segment(subject);
        let answer = self.call(
            "GET",
            &format!("/subjects/{subject_path}/versions/latest"),
            None,
        )?;
        let id = id_of(&answer)?;
        let (kind, text) = schema_of(&answer)?;
        lock(&self.schemas).insert(id, (kind, text.clone()));
        Ok((id, kind, text))
    }

    /// The schema registered under `id`.
    pub fn schema(&self, id: u32) -> Result<(SchemaKind, String), RegistryError> {
        if let Some(s) = lock(&self.schemas).get(&id) {
            return Ok(s.clone());
        }
        let answer = self.call("GET", &format!("/schemas/ids/{id}"), None)?;
        let found = schema_of(&answer)?;
        lock(&self.schemas).insert(id, found.clone());
        Ok(found)
    }

    fn client(&self) -> Result<&Client, RegistryError> {
        let made = self.client.get_or_init(|| {
            let mut b = Client::builder().timeout(self.timeout);
            if let Some(pem) = &self.ca_pem {
                let ca = reqwest::Certificate::from_pem(pem).map_err(|e| {
                    format!("[schema_registry] ca_file is not a PEM certificate: {e}")
                })?;
                b = b.add_root_certificate(ca);
            }
            b.build()
                .map_err(|e| format!("cannot make the schema registry's HTTP client: {e}"))
        });
        made.as_ref().map_err(|e| RegistryError::Refused(e.clone()))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, RegistryError> {
        let client = self.client()?;
        let url = format!("{}{path}", self.url);
        let mut req = match method {
            "POST" => client.post(&url),
            _ => client.get(&url),
        };
        req = req.header("Accept", "application/vnd.schemaregistry.v1+json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .body(b.to_string());
        }
        if let Some(user) = &self.username {
            req = req.basic_auth(user, self.password.as_ref().map(Secret::expose));
        }
        // reqwest's errors name the URL, never the credentials.
        let resp = req
            .send()
            .map_err(|e| RegistryError::Unreachable(format!("{method} {url}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| RegistryError::Unreachable(format!("{method} {url}: {e}")))?;
        let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return parsed.ok_or_else(|| {
                RegistryError::Refused(format!("{method} {url}: answer is not JSON: {text:.200}"))
            });
        }
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(|m| m.as_str())
            .map_or_else(|| format!("{text:.300}"), str::to_string);
        let why = format!("{method} {url}: HTTP {}: {message}", status.as_u16());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(RegistryError::Unreachable(why))
        } else {
            Err(RegistryError::Refused(why))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn id_of(answer: &serde_json::Value) -> Result<u32, RegistryError> {
    answer
        .get("id")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| RegistryError::Refused(format!("answer has no schema id: {answer}")))
}

fn schema_of(answer: &serde_json::Value) -> Result<(SchemaKind, String), RegistryError> {
    let text = answer
        .get("schema")
        .and_then(|s| s.as_str())
        .ok_or_else(|| RegistryError::Refused(format!("answer has no schema: {answer}")))?;
    let kind = SchemaKind::from_wire(answer.get("schemaType").and_then(|t| t.as_str()));
    Ok((kind, text.to_string()))
}

/// A subject as one URL path segment (subjects may hold `/` or spaces).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
