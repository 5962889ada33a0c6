//! Plugins written in Go with `plugins/sdk-go`, run by `streamplug run`
//! beside Rust plugins against the real broker, read back field by field.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use streamplug_tests::langs::{
    Crash, crash_is_contained, plugin, source_resumes_from_its_checkpoint,
};
use streamplug_tests::{Scratch, artifacts, brokers, consume_all, counter, run_ok, unique_topic};

const TS_BASE: i64 = 1_700_000_000_000;

/// The SDK's own unit tests (`go test`): the encoding against
/// `wit/ENCODING.md`'s example and the Rust codec's shared vectors, config
/// access, natively and as wasip1 modules in wazero, where the canonical ABI
/// glue of each world is tested too; and `go vet` of the wasip1 bindings.
#[test]
fn go_sdk_unit_tests_pass() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk-go/test.sh");
    let out = Command::new(&script)
        .output()
        .expect("run plugins/sdk-go/test.sh");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The datagen JSON value of `seq` (see plugins/datagen's formulas).
fn datagen_json(seq: u64, value_size: usize) -> String {
    let kind = ["click", "view", "buy"][(seq % 3) as usize];
    let bare = format!(r#"{{"seq":{seq},"kind":"{kind}","pad":""}}"#);
    let pad = "x".repeat(value_size.saturating_sub(bare.len()));
    format!(r#"{{"seq":{seq},"kind":"{kind}","pad":"{pad}"}}"#)
}

/// 32-bit FNV-1a, as Go's `hash/fnv` computes it (written out here so the
/// test does not trust the plugin's arithmetic).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Rust datagen -> Rust json-filter (clicks and buys) -> Go
/// partition_by_field by `kind`, with `buy` pinned to partition 0: every
/// record lands in the partition its kind says, unchanged otherwise.
#[test]
fn go_partitioner_places_by_field_behind_rust_plugins() {
    let dir = Scratch::new("go-by-field");
    let topic = unique_topic("go-by-field");
    let (count, value_size, partitions) = (1_500u64, 64usize, 6u32);
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{topic}"
partitions = {partitions}
batch_size = 128
transforms = ["kinds"]
partitioner = "by-kind"
[source.config]
count = {count}
format = "json"
value_size = {value_size}
key_cardinality = 10
timestamp = {TS_BASE}

[[transform]]
name = "kinds"
wasm = "{filter}"
[transform.config]
field = "kind"
values = "click,buy"
header = "kept-by"

[[partitioner]]
name = "by-kind"
wasm = "{by_field}"
[partitioner.config]
field = "kind"
pin = "buy=0"
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        filter = artifacts::JSON_FILTER,
        by_field = plugin("go-partition-by-field"),
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert!(
        stderr.contains("partitioning by field `kind`, 1 pinned values"),
        "the plugin's log line reaches the host's log: {stderr}"
    );
    let kept: BTreeSet<u64> = (0..count).filter(|s| s % 3 != 1).collect();
    let click_partition = (fnv1a("click") % partitions) as i32;
    assert_ne!(click_partition, 0, "the pin must be distinguishable");
    let mut seen = BTreeSet::new();
    for r in consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume") {
        let seq = r.seq();
        let kind = ["click", "view", "buy"][(seq % 3) as usize];
        let want_partition = if kind == "buy" { 0 } else { click_partition };
        assert_eq!(
            r.partition, want_partition,
            "partition of seq {seq} ({kind})"
        );
        assert_eq!(
            r.value.as_deref(),
            Some(datagen_json(seq, value_size).as_bytes()),
            "value of seq {seq}"
        );
        assert_eq!(
            r.key,
            Some(format!("key-{}", seq % 10).into_bytes()),
            "key of seq {seq}"
        );
        assert_eq!(
            r.timestamp,
            Some(TS_BASE + seq as i64),
            "timestamp of seq {seq}"
        );
        assert_eq!(
            r.headers,
            vec![
                ("seq".to_string(), Some(seq.to_string().into_bytes())),
                ("kept-by".to_string(), Some(kind.as_bytes().to_vec())),
            ],
            "headers of seq {seq}"
        );
        assert!(seen.insert(seq), "seq {seq} twice");
    }
    assert_eq!(seen, kept, "every click and buy once");
    assert_eq!(counter(&s, "gen", "delivered"), kept.len() as u64, "{s}");
    assert_eq!(counter(&s, "gen", "failed"), 0, "{s}");
    assert_eq!(counter(&s, "by-kind", "restarts"), 0, "{s}");
}

/// A Go panic prints its message and stack to stderr and ends in a trap
/// (`unreachable`); the host restarts the plugin like a Rust one and
/// gives it the batch again, and the records are still placed by the plugin.
#[test]
fn go_panic_is_contained_and_restarted() {
    let records = crash_is_contained(Crash {
        name: "go-panic",
        world: "partitioner",
        wasm: plugin("go-panic-on-call"),
        table: "",
        config: "n = \"250\"",
        logs: "panic-on-call: record 250, panicking as configured",
        failure: "trapped: wasm trap: wasm `unreachable` instruction executed",
    });
    for r in &records {
        let key = r.key.as_deref().expect("datagen keys its records");
        assert_eq!(r.partition, (key.len() % 3) as i32, "seq {}", r.seq());
    }
}

/// A Go source stopped mid-way continues after its committed checkpoint in
/// the next run, and is told what was committed (delivery feedback).
#[test]
fn go_source_resumes_from_its_checkpoint_after_a_host_restart() {
    source_resumes_from_its_checkpoint("go-counter");
}
