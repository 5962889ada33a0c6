//! Plugins written in C with `plugins/sdk-c`, run by `streamplug run` beside
//! Rust plugins against the real broker, read back field by field.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use streamplug_tests::langs::{Crash, Running, crash_is_contained, plugin};
use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, read_summary, run_ok, sigterm, spawn_run,
    unique_topic, wait_for_log, wait_with_limit,
};

const TS_BASE: i64 = 1_700_000_000_000;

/// The SDK's own unit tests (natively, under ASan and UBSan): the encoding
/// against `wit/ENCODING.md`'s example and the Rust codec's shared vectors,
/// and config access.
#[test]
fn c_sdk_unit_tests_pass() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk-c/test.sh");
    let out = Command::new(&script)
        .output()
        .expect("run plugins/sdk-c/test.sh");
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

/// Rust datagen -> Rust json-filter -> C redact: the C transform masks the
/// digit runs of 3 or more (the `seq` of records from 100 on), adds its
/// header after the others and routes what it masked to another topic.
#[test]
fn c_redact_masks_digit_runs_between_rust_plugins() {
    let dir = Scratch::new("c-redact");
    let own = unique_topic("c-redact-own");
    let masked = unique_topic("c-redact-masked");
    let (count, value_size) = (1_500u64, 64usize);
    let config = format!(
        r##"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{own}"
batch_size = 128
transforms = ["buys", "redact"]
[source.config]
count = {count}
format = "json"
value_size = {value_size}
key_cardinality = 10
timestamp = {TS_BASE}

[[transform]]
name = "buys"
wasm = "{filter}"
[transform.config]
field = "kind"
values = "buy"
header = "kept-by"

[[transform]]
name = "redact"
wasm = "{redact}"
topics = ["{masked}"]
[transform.config]
min_digits = "3"
mask = "#"
header = "masked"
route_topic = "{masked}"
"##,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        filter = artifacts::JSON_FILTER,
        redact = plugin("c-redact"),
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert!(
        stderr.contains("masking runs of 3 or more digits with '#'"),
        "the plugin's log line reaches the host's log: {stderr}"
    );
    let buys: Vec<u64> = (0..count).filter(|s| s % 3 == 2).collect();
    let mut got = BTreeMap::new();
    for (topic, is_masked) in [(&own, false), (&masked, true)] {
        for r in consume_all(&brokers(), topic, Duration::from_millis(500)).expect("consume") {
            let seq = r.seq();
            assert_eq!(seq >= 100, is_masked, "seq {seq} in the wrong topic");
            let mut value = datagen_json(seq, value_size);
            let mut headers = vec![
                ("seq".to_string(), Some(seq.to_string().into_bytes())),
                ("kept-by".to_string(), Some(b"buy".to_vec())),
            ];
            if is_masked {
                value = value.replace(
                    &format!(":{seq},"),
                    &format!(":{},", "#".repeat(seq.to_string().len())),
                );
                headers.push(("masked".to_string(), Some(b"1".to_vec())));
            }
            assert_eq!(
                r.value.as_deref(),
                Some(value.as_bytes()),
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
            assert_eq!(r.headers, headers, "headers of seq {seq}");
            assert!(got.insert(seq, ()).is_none(), "seq {seq} twice");
        }
    }
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), buys);
    assert_eq!(
        counter(&s, "redact", "records_in"),
        buys.len() as u64,
        "{s}"
    );
    assert_eq!(counter(&s, "gen", "delivered"), buys.len() as u64, "{s}");
    assert_eq!(counter(&s, "gen", "failed"), 0, "{s}");
}

/// A C plugin that aborts is restarted like a Rust one, and its batch is
/// given to the new instance: every record arrives, exactly once.
#[test]
fn c_transform_abort_is_contained_and_restarted() {
    crash_is_contained(Crash {
        name: "c-abort",
        world: "transform",
        wasm: plugin("c-abort-on-call"),
        table: "",
        config: "n = \"8\"",
        logs: "abort-on-call: call 8, aborting as configured",
        failure: "trapped",
    });
}

/// A C source stopped mid-way continues after its committed checkpoint in
/// the next run, and is told what was committed (delivery feedback).
#[test]
fn c_source_resumes_from_its_checkpoint_after_a_host_restart() {
    let dir = Scratch::new("c-counter");
    let topic = unique_topic("c-counter");
    let count = 3_000u64;
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[checkpoints]
store = "file"
dir = "{store}"
interval_ms = 50

[[source]]
name = "counter"
wasm = "{counter}"
topic = "{topic}"
[source.config]
count = "{count}"
per_poll = "20"
idle_ms = "25"
"#,
        brokers = brokers(),
        store = dir.path().join("checkpoints").display(),
        counter = plugin("c-counter"),
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut first = Running(spawn_run(&path, &summary, dir.path()));
    wait_for_log(dir.path(), "counter: at 1000");
    sigterm(&first.0);
    assert!(wait_with_limit(&mut first.0, Duration::from_secs(60)).success());
    let first_log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();

    let mut second = Running(spawn_run(&path, &summary, dir.path()));
    assert!(wait_with_limit(&mut second.0, Duration::from_secs(120)).success());
    let second_log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let s = read_summary(&summary);
    assert_eq!(counter(&s, "counter", "failed"), 0, "{s}");

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    let header = |r: &streamplug_tests::Consumed, name: &str| {
        String::from_utf8(r.header(name).expect(name).to_vec()).expect("utf-8")
    };
    // The second run starts where the first one's last checkpoint was.
    let resumed: Vec<u64> = records
        .iter()
        .map(|r| header(r, "resumed-from"))
        .filter(|h| h != "none")
        .map(|h| h.parse().expect("a number"))
        .collect();
    let at = *resumed
        .first()
        .unwrap_or_else(|| panic!("no resumed records: {second_log}"));
    assert!(resumed.iter().all(|r| *r == at), "one resume point");
    assert!(at >= 1000 && at < count, "resumed at {at}: {first_log}");
    assert!(
        second_log.contains(&format!("counter: resuming at {at}")),
        "{second_log}"
    );
    // A graceful stop commits everything made: nothing twice, nothing lost.
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count).collect::<Vec<_>>());
    for r in &records {
        let seq = r.seq();
        assert_eq!(
            r.value,
            Some(seq.to_string().into_bytes()),
            "value of {seq}"
        );
        assert_eq!(r.key, None);
        let from = header(r, "resumed-from");
        assert_eq!(from == "none", seq < at, "seq {seq} resumed-from {from}");
        // Delivery feedback: a committed checkpoint is never ahead of the record made after it.
        let committed = header(r, "committed");
        if committed != "none" {
            let c: u64 = committed.parse().expect("a number");
            assert!(c <= seq, "seq {seq} was told {c} was committed");
        }
    }
    let told = records
        .iter()
        .filter(|r| header(r, "committed") != "none")
        .count();
    assert!(
        told > 0,
        "the source was never told of a committed checkpoint"
    );
}
