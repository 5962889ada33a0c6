//! Plugins written in JavaScript with `plugins/sdk-js` (componentize-js),
//! run by `streamplug run` beside Rust plugins against the real broker.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use streamplug_tests::langs::{Crash, crash_is_contained, plugin};
use streamplug_tests::{Scratch, artifacts, brokers, consume_all, counter, run_ok, unique_topic};

const TS_BASE: i64 = 1_700_000_000_000;

/// Headroom for componentize-js's engine (a pass-through peaked at 9.1 MiB).
const MEMORY: &str = "limits = { memory = \"256MiB\" }";

/// The SDK's unit tests (natively, with node): the encoding against
/// `wit/ENCODING.md`'s example and the Rust codec's shared vectors, and config.
#[test]
fn js_sdk_unit_tests_pass() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk-js/test.sh");
    let out = Command::new(&script)
        .output()
        .expect("run plugins/sdk-js/test.sh");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rust datagen (JSON) -> JavaScript route: `buy` and `view` records go to
/// their own topics reshaped to `{"kind":..,"seq":..}` and keyed by `seq`;
/// `click` records are dropped.
#[test]
fn js_route_reshapes_json_and_routes_by_a_field() {
    let dir = Scratch::new("js-route");
    let own = unique_topic("js-route-own");
    let buys = unique_topic("js-route-buy");
    let views = unique_topic("js-route-view");
    let count = 1_500u64;
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{own}"
batch_size = 128
transforms = ["route"]
[source.config]
count = {count}
format = "json"
value_size = 60
timestamp = {TS_BASE}

[[transform]]
name = "route"
wasm = "{route}"
topics = ["{buys}", "{views}"]
{MEMORY}
[transform.config]
route_field = "kind"
routes = "buy={buys},view={views}"
unrouted = "drop"
fields = "kind,seq"
key_field = "seq"
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        route = plugin("js-route"),
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert!(stderr.contains("routing by `kind` to 2 topics"), "{stderr}");
    assert!(
        consume_all(&brokers(), &own, Duration::from_millis(300))
            .expect("consume")
            .is_empty(),
        "unrouted records are dropped"
    );
    for (topic, kind, rest) in [(&buys, "buy", 2u64), (&views, "view", 1u64)] {
        let records = consume_all(&brokers(), topic, Duration::from_millis(500)).expect("consume");
        let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (0..count).filter(|s| s % 3 == rest).collect::<Vec<_>>(),
            "{kind}"
        );
        for r in &records {
            let seq = r.seq();
            let value = format!(r#"{{"kind":"{kind}","seq":{seq}}}"#);
            assert_eq!(
                r.value.as_deref(),
                Some(value.as_bytes()),
                "value of seq {seq}"
            );
            assert_eq!(
                r.key,
                Some(seq.to_string().into_bytes()),
                "key of seq {seq}"
            );
            assert_eq!(r.timestamp, Some(TS_BASE + seq as i64));
            assert_eq!(
                r.headers,
                vec![
                    ("seq".to_string(), Some(seq.to_string().into_bytes())),
                    ("routed-by".to_string(), Some(kind.as_bytes().to_vec())),
                ]
            );
        }
    }
    assert_eq!(counter(&s, "route", "records_in"), count, "{s}");
    assert_eq!(counter(&s, "gen", "failed"), 0, "{s}");
}

/// An exception other than `PluginError` traps the instance; the host
/// restarts it like a Rust plugin and gives it the batch again.
#[test]
fn js_exception_is_contained_and_restarted() {
    crash_is_contained(Crash {
        name: "js-throw",
        world: "transform",
        wasm: plugin("js-throw-on-call"),
        table: MEMORY,
        config: "n = \"8\"",
        logs: "throw-on-call: call 8, throwing as configured",
        failure: "trapped",
    });
}
