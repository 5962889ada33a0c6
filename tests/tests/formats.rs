//! Record formats with a real Schema Registry: a plugin's JSON produced as
//! Avro or Protobuf in the Confluent wire format, read back by independent
//! decoders (fastavro, Python protobuf) with the schema fetched from the
//! registry by the id in each record; records that do not match dead-lettered with the field named; an
//! incompatible schema refused with the registry's reason; a registry that
//! is away neither loses records nor lets one out unframed.

use std::time::Duration;

use streamplug_tests::registry::{self, OwnRegistry};
use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, counter, datagen, read_summary, run_ok,
    run_to_end, spawn_run, unique_topic, wait_for_log, wait_with_limit,
};

const EVENT: &str = r#"{"type":"record","name":"Event","namespace":"streamplug.test","fields":[
  {"name":"seq","type":"long"},
  {"name":"kind","type":"string"},
  {"name":"pad","type":"string"}
]}"#;

/// The JSON datagen makes for `seq` (`format = "json"`), as fields.
fn expected(seq: u64, value_size: usize) -> serde_json::Value {
    let kind = datagen::json_kind(seq);
    let bare = format!(r#"{{"seq":{seq},"kind":"{kind}","pad":""}}"#);
    let pad = "x".repeat(value_size.saturating_sub(bare.len()));
    serde_json::json!({ "seq": seq, "kind": kind, "pad": pad })
}

fn config(topic: &str, registry: &str, source: &str, extra: &str) -> String {
    config_with(
        r#"value_format = { type = "avro", schema = "event.avsc" }"#,
        topic,
        registry,
        source,
        extra,
    )
}

fn config_with(format: &str, topic: &str, registry: &str, source: &str, extra: &str) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"

[schema_registry]
url = "{registry}"

[[source]]
name = "events"
wasm = "{datagen}"
topic = "{topic}"
{format}
{extra}
[source.config]
format = "json"
value_size = 60
{source}
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
    )
}

/// Decodes every record's value and checks it field by field against what
/// datagen made; every record carries `id`, the subject's latest.
fn assert_decoded(registry: &str, topic: &str, records: &[Consumed], count: u64) {
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().expect("a value"))
        .collect();
    let (latest, decoded) = registry::decode(registry, Some(&format!("{topic}-value")), &values);
    let latest = latest.expect("latest id");
    let mut seqs = Vec::new();
    for (r, d) in records.iter().zip(&decoded) {
        assert!(d.get("error").is_none(), "record {}: {d}", r.seq());
        assert_eq!(d["id"].as_u64(), Some(latest), "{d}");
        assert_eq!(d["value"], expected(r.seq(), 60), "record {}", r.seq());
        // The key is bytes: passed on as the plugin made it.
        assert_eq!(r.key, datagen::key(r.seq(), 1000));
        seqs.push(r.seq());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count).collect::<Vec<_>>());
}

#[test]
fn json_from_the_plugin_is_produced_as_framed_avro_that_an_independent_decoder_reads() {
    let dir = Scratch::new("avro");
    dir.write("event.avsc", EVENT);
    let topic = unique_topic("avro");
    let url = registry::url();
    let (s, _) = run_ok(&dir, &config(&topic, &url, "count = 300", ""));
    assert_eq!(counter(&s, "events", "delivered"), 300, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 0, "{s}");
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 300);
    assert_decoded(&url, &topic, &records, 300);
}

#[test]
fn a_value_that_does_not_match_its_schema_is_dead_lettered_with_the_field_named() {
    let dir = Scratch::new("avro-bad");
    // datagen's third kind, "buy", is not one of the enum's symbols.
    dir.write(
        "event.avsc",
        &EVENT.replace(
            r#"{"name":"kind","type":"string"}"#,
            r#"{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["click","view"]}}"#,
        ),
    );
    let topic = unique_topic("acme.avro-bad");
    let dlq = unique_topic("acme.dlq");
    let tenant = r#"tenant = "acme""#;
    let text = format!(
        "{}\n[[tenant]]\nname = \"acme\"\ntopics = [\"acme.*\"]\ndead_letter_topic = \"{dlq}\"\n",
        config(&topic, &registry::url(), "count = 30", tenant)
    );
    let (s, _) = run_ok(&dir, &text);
    assert_eq!(counter(&s, "events", "delivered"), 20, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 10, "{s}");
    assert_eq!(counter(&s, "events", "dead_lettered"), 10, "{s}");

    let letters = consume_all(&brokers(), &dlq, Duration::from_millis(300)).unwrap();
    assert_eq!(letters.len(), 10);
    for l in &letters {
        let seq = l.seq();
        assert_eq!(seq % 3, 2, "only the `buy` records fail");
        let cause = String::from_utf8_lossy(l.header("streamplug.error").unwrap_or_default());
        assert_eq!(
            cause,
            format!(
                r#"value for topic `{topic}` does not match its Avro schema: $.kind: expected one of ["click", "view"], got "buy""#
            )
        );
        // The original bytes, as the plugin made them.
        let original: serde_json::Value =
            serde_json::from_slice(l.value.as_deref().unwrap()).unwrap();
        assert_eq!(original, expected(seq, 60));
    }
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().unwrap())
        .collect();
    let (_, decoded) = registry::decode(&registry::url(), None, &values);
    for (r, d) in records.iter().zip(&decoded) {
        assert_eq!(d["value"], expected(r.seq(), 60), "{d}");
    }
}

#[test]
fn a_schema_the_registry_refuses_as_incompatible_stops_the_source_with_its_reason() {
    let dir = Scratch::new("avro-incompatible");
    let topic = unique_topic("avro-incompatible");
    let url = registry::url();
    dir.write("event.avsc", EVENT);
    let (s, _) = run_ok(&dir, &config(&topic, &url, "count = 5", ""));
    assert_eq!(counter(&s, "events", "delivered"), 5, "{s}");

    // A new field without a default: old records cannot be read with it,
    // which BACKWARD compatibility (the registry's global rule) forbids.
    dir.write(
        "event.avsc",
        &EVENT.replace(
            r#"{"name":"pad","type":"string"}"#,
            r#"{"name":"pad","type":"string"},{"name":"region","type":"string"}"#,
        ),
    );
    let path = dir.write("config.toml", &config(&topic, &url, "count = 5", ""));
    let summary = dir.path().join("summary.json");
    let out = run_to_end(&path, &summary);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("source stops: subject `{topic}-value`"))
            && stderr.contains("HTTP 409")
            && stderr.contains("Incompatible"),
        "{stderr}"
    );
    let s = read_summary(&summary);
    assert_eq!(counter(&s, "events", "delivered"), 0, "{s}");
    assert_eq!(s["plugins"]["events"]["gave_up"], true, "{s}");
    // Only the first run's records are there.
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 5);
}

#[test]
fn a_registry_away_at_the_start_and_for_20_s_mid_run_loses_nothing_and_frames_everything() {
    let dir = Scratch::new("avro-outage");
    dir.write("event.avsc", EVENT);
    let topic = unique_topic("avro-outage");
    let own = OwnRegistry::new(dir.path());
    // 50 records a second (the host's quota) for 80 s: the run spans the
    // outage.
    let count = 4000;
    let path = dir.write(
        "config.toml",
        &config(
            &topic,
            &own.url(),
            &format!("count = {count}"),
            "quota = { records_per_second = 50 }",
        ),
    );
    let summary = dir.path().join("summary.json");
    let mut host = spawn_run(&path, &summary, dir.path());
    let guard = KillOnDrop(&mut host);
    let in_topic = || {
        consume_all(&brokers(), &topic, Duration::ZERO)
            .unwrap_or_default()
            .len() as u64
    };

    // Away at the start: the source waits, nothing is produced.
    wait_for_log(dir.path(), "waiting for the schema registry");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(in_topic(), 0, "produced before the registry answered");
    own.start();
    wait_for_log(dir.path(), "the schema registry answered");
    std::thread::sleep(Duration::from_secs(2));
    let before = in_topic();
    own.stop();
    std::thread::sleep(Duration::from_secs(20));
    // The source went on producing while the registry was away.
    let during = in_topic();
    assert!(
        during > before,
        "{before} records when the registry stopped, {during} 20 s later"
    );
    own.start();

    let status = wait_with_limit(&mut *guard.0, Duration::from_secs(90));
    assert!(status.success(), "streamplug exited with {status}");
    let s = read_summary(&summary);
    assert_eq!(counter(&s, "events", "delivered"), count, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 0, "{s}");
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len() as u64, count);
    assert_decoded(&own.url(), &topic, &records, count);
}

/// Kills the host if the test fails before it exits.
struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `Event` is the file's second message: its values carry the message
/// indexes `[1]`, not the `[0]` shortcut.
const EVENT_PROTO: &str = r#"syntax = "proto3";
package streamplug.test;

message Meta { string origin = 1; }

message Event {
  int64 seq = 1;
  string kind = 2;
  string pad = 3;
}
"#;

const PROTOBUF: &str = r#"value_format = { type = "protobuf", schema = "event.proto", message = "streamplug.test.Event" }"#;

#[test]
fn json_from_the_plugin_is_produced_as_framed_protobuf_that_an_independent_decoder_reads() {
    let dir = Scratch::new("protobuf");
    dir.write("event.proto", EVENT_PROTO);
    let topic = unique_topic("protobuf");
    let url = registry::url();
    let (s, _) = run_ok(
        &dir,
        &config_with(PROTOBUF, &topic, &url, "count = 300", ""),
    );
    assert_eq!(counter(&s, "events", "delivered"), 300, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 0, "{s}");
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 300);
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().expect("a value"))
        .collect();
    let (latest, decoded) = registry::decode(&url, Some(&format!("{topic}-value")), &values);
    let latest = latest.expect("latest id");
    let mut seqs = Vec::new();
    for (r, d) in records.iter().zip(&decoded) {
        assert!(d.get("error").is_none(), "record {}: {d}", r.seq());
        assert_eq!(d["id"].as_u64(), Some(latest), "{d}");
        assert_eq!(d["message"], "streamplug.test.Event", "{d}");
        assert_eq!(d["indexes"], serde_json::json!([1]), "{d}");
        assert_eq!(d["value"], expected(r.seq(), 60), "record {}", r.seq());
        assert_eq!(r.key, datagen::key(r.seq(), 1000));
        seqs.push(r.seq());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..300).collect::<Vec<_>>());
}

#[test]
fn a_value_that_does_not_match_its_protobuf_message_is_dead_lettered_with_the_field_named() {
    let dir = Scratch::new("protobuf-bad");
    // datagen's third kind, "buy", is not one of the enum's values.
    dir.write(
        "event.proto",
        &EVENT_PROTO.replace(
            "string kind = 2;",
            "Kind kind = 2;\n  enum Kind { click = 0; view = 1; }",
        ),
    );
    let topic = unique_topic("acme.protobuf-bad");
    let dlq = unique_topic("acme.dlq");
    let text = format!(
        "{}\n[[tenant]]\nname = \"acme\"\ntopics = [\"acme.*\"]\ndead_letter_topic = \"{dlq}\"\n",
        config_with(
            PROTOBUF,
            &topic,
            &registry::url(),
            "count = 30",
            r#"tenant = "acme""#
        )
    );
    let (s, _) = run_ok(&dir, &text);
    assert_eq!(counter(&s, "events", "delivered"), 20, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 10, "{s}");
    assert_eq!(counter(&s, "events", "dead_lettered"), 10, "{s}");

    let letters = consume_all(&brokers(), &dlq, Duration::from_millis(300)).unwrap();
    assert_eq!(letters.len(), 10);
    for l in &letters {
        let seq = l.seq();
        assert_eq!(seq % 3, 2, "only the `buy` records fail");
        let cause = String::from_utf8_lossy(l.header("streamplug.error").unwrap_or_default());
        assert_eq!(
            cause,
            format!(
                "value for topic `{topic}` does not match its protobuf message: $.kind: unrecognized enum value 'buy'"
            )
        );
        let original: serde_json::Value =
            serde_json::from_slice(l.value.as_deref().unwrap()).unwrap();
        assert_eq!(original, expected(seq, 60));
    }
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 20);
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().unwrap())
        .collect();
    let (_, decoded) = registry::decode(&registry::url(), None, &values);
    for (r, d) in records.iter().zip(&decoded) {
        assert_eq!(d["value"], expected(r.seq(), 60), "{d}");
    }
}

fn registry_tag_config(subject: &str, topic: &str, registry_table: &str) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
{registry_table}

[[source]]
name = "events"
wasm = "{datagen}"
topic = "{topic}"
transforms = ["tag"]
[source.config]
count = 20

[[transform]]
name = "tag"
wasm = "{tag}"
[transform.config]
subject = "{subject}"
schema = '{schema}'
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        tag = artifacts::TEST_REGISTRY_TAG,
        schema = EVENT.replace('\n', " "),
    )
}

/// The Rust SDK's `schema_registry` (in the `registry-tag` test plugin)
/// registers a schema through the host and fetches it back by its id: the id
/// is the registry's own for the subject, the text what it holds under it.
#[test]
fn a_rust_plugin_gets_the_registrys_id_for_its_subject_through_the_sdk() {
    let dir = Scratch::new("sdk-registry");
    let topic = unique_topic("sdk-registry");
    let subject = format!("{topic}-sdk");
    let url = registry::url();
    let table = format!("[schema_registry]\nurl = \"{url}\"");
    let (s, _) = run_ok(&dir, &registry_tag_config(&subject, &topic, &table));
    assert_eq!(counter(&s, "events", "delivered"), 20, "{s}");

    let latest = registry::get(&url, &format!("/subjects/{subject}/versions/latest"));
    let id = latest["id"].as_u64().expect("an id");
    let held = registry::get(&url, &format!("/schemas/ids/{id}"));
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 20);
    for r in &records {
        let tagged = std::str::from_utf8(r.header("schema-id").expect("schema-id")).unwrap();
        assert_eq!(tagged, id.to_string(), "record {}", r.seq());
        let text = std::str::from_utf8(r.header("schema-text").expect("schema-text")).unwrap();
        // The same schema; the registry may have compacted its text.
        let text: serde_json::Value = serde_json::from_str(text).unwrap();
        let held: serde_json::Value =
            serde_json::from_str(held["schema"].as_str().expect("schema")).unwrap();
        assert_eq!(text, held, "record {}", r.seq());
        // The record itself passes as datagen made it.
        assert_eq!(
            r.value.as_deref(),
            Some(&datagen::bytes_value(r.seq(), 100)[..])
        );
    }
}

/// Without `[schema_registry]` the SDK call returns the host's reason, which
/// the plugin returns from `init`: it is given up with that message.
#[test]
fn without_a_registry_the_sdk_call_fails_with_the_hosts_reason() {
    let dir = Scratch::new("sdk-no-registry");
    let topic = unique_topic("sdk-no-registry");
    let path = dir.write(
        "config.toml",
        &registry_tag_config("orders-value", &topic, ""),
    );
    let summary = dir.path().join("summary.json");
    let out = run_to_end(&path, &summary);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "cannot register a schema under subject `orders-value`: no [schema_registry] is configured"
        ),
        "{stderr}"
    );
    let s = read_summary(&summary);
    assert_eq!(s["plugins"]["tag"]["gave_up"], true, "{s}");
    assert_eq!(counter(&s, "events", "delivered"), 0, "{s}");
}

const EVENT_JSON_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "streamplug.test.Event",
  "type": "object",
  "properties": {
    "seq": { "type": "integer", "minimum": 0 },
    "kind": { "type": "string" },
    "pad": { "type": "string" }
  },
  "required": ["seq", "kind", "pad"],
  "additionalProperties": false
}"#;

/// The schema with `kind` limited to two of datagen's three kinds.
fn two_kinds_schema() -> String {
    EVENT_JSON_SCHEMA.replace(
        r#""kind": { "type": "string" }"#,
        r#""kind": { "enum": ["click", "view"] }"#,
    )
}

/// Dead letters of a run where `buy` records fail: 10 of 30, each with
/// `cause` and datagen's original bytes.
fn assert_buy_letters(dlq: &str, cause: &str) -> Vec<Consumed> {
    let letters = consume_all(&brokers(), dlq, Duration::from_millis(300)).unwrap();
    assert_eq!(letters.len(), 10);
    for l in &letters {
        assert_eq!(l.seq() % 3, 2, "only the `buy` records fail");
        let got = String::from_utf8_lossy(l.header("streamplug.error").unwrap_or_default());
        assert_eq!(got, cause);
        let original: serde_json::Value =
            serde_json::from_slice(l.value.as_deref().unwrap()).unwrap();
        assert_eq!(original, expected(l.seq(), 60));
    }
    letters
}

fn tenant_config(format: &str, topic: &str, dlq: &str) -> String {
    format!(
        "{}\n[[tenant]]\nname = \"acme\"\ntopics = [\"acme.*\"]\ndead_letter_topic = \"{dlq}\"\n",
        config_with(
            format,
            topic,
            &registry::url(),
            "count = 30",
            r#"tenant = "acme""#
        )
    )
}

#[test]
fn json_schema_values_are_registered_framed_and_valid_for_an_independent_validator() {
    let dir = Scratch::new("json-schema");
    dir.write("event.json", EVENT_JSON_SCHEMA);
    let topic = unique_topic("json-schema");
    let url = registry::url();
    let format = r#"value_format = { type = "json_schema", schema = "event.json" }"#;
    let (s, _) = run_ok(&dir, &config_with(format, &topic, &url, "count = 300", ""));
    assert_eq!(counter(&s, "events", "delivered"), 300, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 0, "{s}");
    let latest = registry::get(&url, &format!("/subjects/{topic}-value/versions/latest"));
    assert_eq!(latest["schemaType"], "JSON", "{latest}");

    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 300);
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().expect("a value"))
        .collect();
    let (id, decoded) = registry::decode(&url, Some(&format!("{topic}-value")), &values);
    assert_eq!(id, latest["id"].as_u64());
    let mut seqs = Vec::new();
    for (r, d) in records.iter().zip(&decoded) {
        assert!(d.get("error").is_none(), "record {}: {d}", r.seq());
        assert_eq!(d["id"].as_u64(), id, "{d}");
        assert_eq!(
            d["errors"],
            serde_json::json!([]),
            "record {}: {d}",
            r.seq()
        );
        assert_eq!(d["value"], expected(r.seq(), 60), "record {}", r.seq());
        seqs.push(r.seq());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..300).collect::<Vec<_>>());
}

#[test]
fn a_value_that_does_not_match_its_json_schema_is_dead_lettered_with_the_instance_path() {
    let dir = Scratch::new("json-schema-bad");
    dir.write("event.json", &two_kinds_schema());
    let topic = unique_topic("acme.json-schema-bad");
    let dlq = unique_topic("acme.dlq");
    let format = r#"value_format = { type = "json_schema", schema = "event.json" }"#;
    let (s, _) = run_ok(&dir, &tenant_config(format, &topic, &dlq));
    assert_eq!(counter(&s, "events", "delivered"), 20, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 10, "{s}");
    assert_eq!(counter(&s, "events", "dead_lettered"), 10, "{s}");
    let letters = assert_buy_letters(
        &dlq,
        &format!(
            r#"value for topic `{topic}` does not match its JSON Schema: $.kind: "buy" is not one of "click" or "view""#
        ),
    );

    let url = registry::url();
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 20);
    let mut values: Vec<Vec<u8>> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    // The letters framed with the same id: the independent validator
    // rejects them too, on `kind`.
    let frame = values[0][..5].to_vec();
    values.extend(letters.iter().map(|l| {
        let mut v = frame.clone();
        v.extend_from_slice(l.value.as_deref().unwrap());
        v
    }));
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let (_, decoded) = registry::decode(&url, None, &refs);
    for (r, d) in records.iter().zip(&decoded) {
        assert_eq!(d["errors"], serde_json::json!([]), "{d}");
        assert_eq!(d["value"], expected(r.seq(), 60), "{d}");
    }
    for d in &decoded[20..] {
        let errors = d["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{d}");
        assert!(
            errors[0].as_str().unwrap().contains("'buy' is not one of"),
            "{d}"
        );
    }
}

#[test]
fn plain_json_with_a_schema_is_checked_but_neither_framed_nor_registered() {
    let dir = Scratch::new("json-checked");
    dir.write("event.json", &two_kinds_schema());
    let topic = unique_topic("acme.json-checked");
    let dlq = unique_topic("acme.dlq");
    let format = r#"value_format = { type = "json", schema = "event.json" }"#;
    let (s, _) = run_ok(&dir, &tenant_config(format, &topic, &dlq));
    assert_eq!(counter(&s, "events", "delivered"), 20, "{s}");
    assert_eq!(counter(&s, "events", "failed"), 10, "{s}");
    assert_buy_letters(
        &dlq,
        &format!(
            r#"value for topic `{topic}` does not match its JSON Schema: $.kind: "buy" is not one of "click" or "view""#
        ),
    );
    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 20);
    for r in &records {
        // The bytes datagen made, unframed.
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(v, expected(r.seq(), 60));
    }
    let subjects = registry::get(&registry::url(), "/subjects");
    let subjects: Vec<&str> = subjects
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        !subjects.iter().any(|s| s.contains(topic.as_str())),
        "{subjects:?}"
    );
}
