//! Plugins of every contract version run in one host: `streamplug check`
//! names the version a plugin was built against, plugins built against
//! 0.1.0 (prebuilt, `tests/fixtures/plugin-0.1.0/`) and 0.2.0 mix in one
//! pipeline, and 0.2.0's byte budget lets large records through the default
//! memory limit.

use std::collections::BTreeSet;
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, datagen, fixtures_0_1, java_partition,
    run_ok, streamplug, unique_topic,
};

const TS_BASE: i64 = 1_700_000_000_000;

#[test]
fn check_names_the_contract_version() {
    for (wasm, world, version) in [
        (fixtures_0_1::DATAGEN, "source", "0.1.0"),
        (fixtures_0_1::PASSTHROUGH, "transform", "0.1.0"),
        (fixtures_0_1::KEYHASH_PARTITIONER, "partitioner", "0.1.0"),
        (artifacts::DATAGEN, "source", "0.2.0"),
        (artifacts::TEST_PASSTHROUGH, "transform", "0.2.0"),
        (artifacts::KEYHASH_PARTITIONER, "partitioner", "0.2.0"),
    ] {
        let out = streamplug().arg("check").arg(wasm).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{wasm}: {stdout}");
        assert!(
            stdout.contains(&format!("a valid streamplug {world} plugin")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("contract streamplug:plugin@{version}\n")),
            "{wasm}: {stdout}"
        );
    }
}

/// Two sources, each crossing versions at every stage: old source → new
/// transform → old partitioner, and new source → old transform → new
/// partitioner. Every record arrives as datagen made it, placed by key hash.
#[test]
fn plugins_of_both_versions_mix_in_one_pipeline() {
    let dir = Scratch::new("versions");
    let (count, cardinality, size, partitions) = (3_000u64, 53u64, 64usize, 3u32);
    let pipelines = [
        (
            "old-gen",
            fixtures_0_1::DATAGEN,
            "new-pass",
            "old-hash",
            unique_topic("v01"),
        ),
        (
            "new-gen",
            artifacts::DATAGEN,
            "old-pass",
            "new-hash",
            unique_topic("v02"),
        ),
    ];
    let mut text = format!("[kafka]\nbrokers = \"{}\"\n", brokers());
    for (name, wasm, transform, partitioner, topic) in &pipelines {
        text += &format!(
            r#"
[[source]]
name = "{name}"
wasm = "{wasm}"
topic = "{topic}"
partitions = {partitions}
batch_size = 128
transforms = ["{transform}"]
partitioner = "{partitioner}"
[source.config]
count = {count}
key_cardinality = {cardinality}
value_size = {size}
timestamp = {TS_BASE}
"#
        );
    }
    for (name, wasm) in [
        ("new-pass", artifacts::TEST_PASSTHROUGH),
        ("old-pass", fixtures_0_1::PASSTHROUGH),
    ] {
        text += &format!("\n[[transform]]\nname = \"{name}\"\nwasm = \"{wasm}\"\n");
    }
    for (name, wasm) in [
        ("old-hash", fixtures_0_1::KEYHASH_PARTITIONER),
        ("new-hash", artifacts::KEYHASH_PARTITIONER),
    ] {
        text += &format!("\n[[partitioner]]\nname = \"{name}\"\nwasm = \"{wasm}\"\n");
    }
    let (s, stderr) = run_ok(&dir, &text);
    let loads: Vec<&str> = stderr.lines().filter(|l| l.contains("contract=")).collect();
    assert_eq!(loads.len(), 6, "one load line per plugin: {stderr}");
    for line in loads {
        let old = ["old-gen", "old-pass", "old-hash"]
            .iter()
            .any(|p| line.contains(&format!("plugin=\"{p}\"")));
        let want = if old { "@0.1.0" } else { "@0.2.0" };
        assert!(line.contains(want), "{line}");
    }

    for (name, _, transform, _, topic) in &pipelines {
        assert_eq!(counter(&s, name, "delivered"), count, "{name}: {s}");
        assert_eq!(counter(&s, name, "restarts"), 0, "{name}: {s}");
        assert_eq!(counter(&s, transform, "records_out"), count, "{s}");
        let records = consume_all(&brokers(), topic, Duration::from_millis(500)).unwrap();
        assert_eq!(records.len() as u64, count, "{topic}");
        let mut seen = BTreeSet::new();
        for r in &records {
            let seq = r.seq();
            assert!(seen.insert(seq), "seq {seq} twice in {topic}");
            let key = datagen::key(seq, cardinality).unwrap();
            assert_eq!(r.key.as_deref(), Some(&key[..]), "key of {seq}");
            assert_eq!(
                r.value.as_deref(),
                Some(&datagen::bytes_value(seq, size)[..]),
                "value of {seq}"
            );
            assert_eq!(r.timestamp, Some(TS_BASE + seq as i64));
            assert_eq!(
                r.headers,
                vec![("seq".to_string(), Some(seq.to_string().into_bytes()))]
            );
            assert_eq!(r.partition, java_partition(&key, partitions), "{seq}");
        }
    }
}

/// A source of 1 MB values asked for 256 records at a time would write a
/// 256 MB batch; under the default 64 MiB memory limit it ran out of memory
/// on its first poll. The byte budget keeps each batch to an eighth of the
/// limit, through a transform too, and nothing is restarted.
#[test]
fn one_megabyte_values_run_under_the_default_memory_limit() {
    let dir = Scratch::new("big-values");
    let topic = unique_topic("big-values");
    let (count, size) = (40u64, 1_000_000usize);
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
# librdkafka's own limit is 1,000,000 bytes a message.
properties = {{ "message.max.bytes" = "2000000" }}

[[source]]
name = "big"
wasm = "{big}"
topic = "{topic}"
batch_size = 256
transforms = ["pass"]
[source.config]
count = {count}
value_size = {size}

[[transform]]
name = "pass"
wasm = "{pass}"
"#,
        brokers = brokers(),
        big = artifacts::TEST_BIG_RECORD,
        pass = artifacts::TEST_PASSTHROUGH,
    );
    let (s, stderr) = run_ok(&dir, &text);
    assert_eq!(counter(&s, "big", "restarts"), 0, "{stderr}");
    assert_eq!(counter(&s, "pass", "restarts"), 0, "{stderr}");
    assert_eq!(counter(&s, "big", "delivered"), count, "{s}");
    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).unwrap();
    let seqs: BTreeSet<u64> = records.iter().map(|r| r.seq()).collect();
    assert_eq!(seqs, (0..count).collect());
    for r in &records {
        let value = r.value.as_deref().unwrap_or_default();
        assert_eq!(value.len(), size, "value of {}", r.seq());
        assert!(value.iter().all(|&b| b == b'b'), "value of {}", r.seq());
    }
}
