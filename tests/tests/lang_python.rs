//! Plugins written in Python with `plugins/sdk-python` (componentize-py),
//! run by `streamplug run` beside Rust plugins against the real broker.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use streamplug_tests::langs::{Crash, Running, crash_is_contained, plugin, wait_for_log_within};
use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, read_summary, sigterm, spawn_run,
    unique_topic, wait_with_limit,
};

const TS_BASE: i64 = 1_700_000_000_000;

/// Headroom for componentize-py's runtime (a pass-through peaked at 12.7 MiB).
const MEMORY: &str = "limits = { memory = \"256MiB\" }";

/// The SDK's unit tests (natively): the encoding against `wit/ENCODING.md`'s
/// example and the Rust codec's shared vectors, and config access.
#[test]
fn python_sdk_unit_tests_pass() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk-python/test.sh");
    let out = Command::new(&script)
        .output()
        .expect("run plugins/sdk-python/test.sh");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Python csv-replay -> Rust json-filter. The host is stopped mid-way and
/// started again: the replay continues after its committed checkpoint, and
/// every `buy` row arrives once, field by field.
#[test]
fn python_csv_replay_resumes_after_a_host_restart() {
    let dir = Scratch::new("py-csv");
    let topic = unique_topic("py-csv");
    let rows = 4_000u64;
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let mut csv = String::from("id,kind,amount,ts\n");
    for i in 0..rows {
        let kind = ["view", "buy"][(i % 2) as usize];
        csv += &format!(
            "id-{i},{kind},\"{}.5, EUR\",{}\n",
            i * 3,
            TS_BASE + i as i64
        );
    }
    std::fs::write(data.join("orders.csv"), csv).expect("csv");
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[checkpoints]
store = "file"
dir = "{store}"
interval_ms = 50

[[source]]
name = "replay"
wasm = "{replay}"
topic = "{topic}"
transforms = ["buys"]
quota = {{ records_per_second = 1000 }}
{MEMORY}
capabilities = {{ read_dirs = ["{data}"] }}
[source.config]
path = "{data}/orders.csv"
key_column = "id"
timestamp_column = "ts"

[[transform]]
name = "buys"
wasm = "{filter}"
[transform.config]
field = "kind"
values = "buy"
header = "kept-by"
"#,
        brokers = brokers(),
        store = dir.path().join("checkpoints").display(),
        replay = plugin("python-csv-replay"),
        filter = artifacts::JSON_FILTER,
        data = data.display(),
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut first = Running(spawn_run(&path, &summary, dir.path()));
    wait_for_log_within(
        dir.path(),
        "csv-replay: 1000 rows made",
        Duration::from_secs(300),
    );
    sigterm(&first.0);
    assert!(wait_with_limit(&mut first.0, Duration::from_secs(60)).success());

    let mut second = Running(spawn_run(&path, &summary, dir.path()));
    assert!(wait_with_limit(&mut second.0, Duration::from_secs(120)).success());
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let resumed: u64 = log
        .split("csv-replay: resuming after row ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the second run did not resume: {log}"));
    assert!(
        (1000..rows).contains(&resumed),
        "resumed after row {resumed}"
    );
    assert!(
        log.contains(&format!("csv-replay: done after {rows} rows")),
        "{log}"
    );
    let s = read_summary(&summary);
    assert_eq!(counter(&s, "replay", "failed"), 0, "{s}");

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    let mut seen = BTreeSet::new();
    for r in &records {
        let row: u64 = String::from_utf8_lossy(r.header("row").expect("row header"))
            .parse()
            .expect("row number");
        let i = row - 1;
        assert!(seen.insert(i), "row {row} twice");
        let value = format!(
            r#"{{"id":"id-{i}","kind":"buy","amount":"{}.5, EUR","ts":"{}"}}"#,
            i * 3,
            TS_BASE + i as i64
        );
        assert_eq!(
            r.value.as_deref(),
            Some(value.as_bytes()),
            "value of row {row}"
        );
        assert_eq!(
            r.key,
            Some(format!("id-{i}").into_bytes()),
            "key of row {row}"
        );
        assert_eq!(
            r.timestamp,
            Some(TS_BASE + i as i64),
            "timestamp of row {row}"
        );
        assert_eq!(
            r.headers,
            vec![
                ("row".to_string(), Some(row.to_string().into_bytes())),
                ("kept-by".to_string(), Some(b"buy".to_vec())),
            ]
        );
    }
    let buys: BTreeSet<u64> = (0..rows).filter(|i| i % 2 == 1).collect();
    assert_eq!(seen, buys, "every buy row once");
}

/// An exception other than `streamplug.Error` traps the instance; the host
/// restarts it like a Rust plugin and gives it the batch again.
#[test]
fn python_exception_is_contained_and_restarted() {
    crash_is_contained(Crash {
        name: "py-raise",
        world: "transform",
        wasm: plugin("python-raise-on-call"),
        table: MEMORY,
        config: "n = \"8\"",
        logs: "raise-on-call: call 8, raising as configured",
        failure: "trapped",
    });
}
