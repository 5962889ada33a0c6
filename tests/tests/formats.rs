//! Record formats with a real Schema Registry: a plugin's JSON produced as
//! Avro in the Confluent wire format, read back by an independent decoder
//! (fastavro) with the schema fetched from the registry by the id in each
//! record; records that do not match dead-lettered with the field named; an
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
value_format = {{ type = "avro", schema = "event.avsc" }}
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
