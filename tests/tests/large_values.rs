//! Large binary values (images, audio): random, incompressible values of
//! 100 KiB and about 1 MB made by a source under the default memory limits
//! reach Kafka byte-exact (sha256 of what datagen made equals sha256 of what
//! an independent consumer reads back), with the producer's
//! `message.max.bytes` and the source's `max_record_bytes` set to agree.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, datagen, run_ok, unique_topic,
};

fn round_trip(size: usize, count: u64) {
    let dir = Scratch::new("large-values");
    let topic = unique_topic("large-values");
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
# librdkafka's default is 1,000,000 bytes; the broker's topic default
# (1,048,588) takes a 1 MB record.
properties = {{ "message.max.bytes" = "1048576" }}

[[source]]
name = "blobs"
wasm = "{datagen}"
topic = "{topic}"
max_record_bytes = "1040000"
[source.config]
format = "random"
value_size = {size}
count = {count}
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
    );
    let (s, stderr) = run_ok(&dir, &text);
    assert_eq!(counter(&s, "blobs", "delivered"), count, "{s}");
    assert_eq!(counter(&s, "blobs", "failed"), 0, "{s}");
    assert_eq!(counter(&s, "blobs", "restarts"), 0, "{stderr}");

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).unwrap();
    let mut read: BTreeMap<u64, String> = BTreeMap::new();
    for r in &records {
        let value = r.value.as_deref().expect("a value");
        assert_eq!(value.len(), size, "value of {}", r.seq());
        assert_eq!(r.key, datagen::key(r.seq(), 1000), "key of {}", r.seq());
        let before = read.insert(r.seq(), hex::encode(Sha256::digest(value)));
        assert!(before.is_none(), "record {} read twice", r.seq());
    }
    let made: BTreeMap<u64, String> = (0..count)
        .map(|seq| {
            let v = datagen::random_value(seq, size);
            (seq, hex::encode(Sha256::digest(&v)))
        })
        .collect();
    assert_eq!(read.len() as u64, count);
    for (seq, sum) in &made {
        assert_eq!(read.get(seq), Some(sum), "sha256 of record {seq}");
    }
    // The values differ from each other: a constant value would hide a
    // mix-up of records.
    let distinct: std::collections::BTreeSet<&String> = read.values().collect();
    assert_eq!(distinct.len() as u64, count);
}

#[test]
fn random_100_kib_values_round_trip_byte_exact() {
    round_trip(100 * 1024, 300);
}

#[test]
fn random_1_mb_values_round_trip_byte_exact_under_the_default_memory_limit() {
    round_trip(1_000_000, 40);
}

#[test]
fn a_max_record_bytes_above_the_producers_message_max_bytes_is_refused_at_startup() {
    let dir = Scratch::new("large-values-mismatch");
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
properties = {{ "message.max.bytes" = "1000000" }}

[[source]]
name = "blobs"
wasm = "{datagen}"
topic = "{topic}"
max_record_bytes = "2MB"
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        topic = unique_topic("large-values-mismatch"),
    );
    let path = dir.write("config.toml", &text);
    let out = streamplug_tests::run_to_end(&path, &dir.path().join("summary.json"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("source `blobs` (line 10): `max_record_bytes` = 2000000 does not fit the producer's `message.max.bytes` = 1000000 ([kafka] properties)"),
        "{stderr}"
    );
}
