//! Plugins written in C with `plugins/sdk-c`, run by `streamplug run` beside
//! Rust plugins against the real broker, read back field by field.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use streamplug_tests::langs::{
    Crash, crash_is_contained, plugin, source_resumes_from_its_checkpoint,
};
use streamplug_tests::{Scratch, artifacts, brokers, consume_all, counter, run_ok, unique_topic};

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
    source_resumes_from_its_checkpoint("c-counter");
}
