//! Plugins written in C (and the other languages with an SDK), built by the
//! project's own script, `plugins/examples.sh`, which installs their
//! toolchains on first use and rebuilds only what changed (a warm call
//! costs well under a second).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;

/// The component of example `name` (e.g. `c-redact`), built if needed.
pub fn plugin(name: &str) -> String {
    // One build at a time: tests run in parallel and share the toolchain.
    static BUILD: Mutex<()> = Mutex::new(());
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples.sh");
    let out = Command::new(&script)
        .arg(name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {name} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{} {name} printed no path", script.display()))
        .to_string();
    assert!(PathBuf::from(&path).is_file(), "{path} was not built");
    path
}

/// A `streamplug run` in the background, killed if the test ends first
/// (a panic included), so no host outlives its test.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for `needle` in `dir/stderr.log` of a [`crate::spawn_run`]
/// host. The first run of a Python or JavaScript component compiles 12-19 MB
/// of WebAssembly (5-10 s on an idle machine, far more on a busy one), so the
/// limit is generous.
pub fn wait_for_log_within(dir: &std::path::Path, needle: &str, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        if log.contains(needle) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "no `{needle}` in the log within {limit:?}:\n{}",
        std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
    );
}

/// A plugin made to fail on purpose (a C abort, a Python or JavaScript
/// exception, a Go panic) behind a Rust `datagen` source.
pub struct Crash<'a> {
    /// Names the scratch folder and the topic.
    pub name: &'a str,
    /// `transform` or `partitioner`.
    pub world: &'a str,
    /// The component (see [`plugin`]).
    pub wasm: String,
    /// More lines of the plugin's table (e.g. its memory limit).
    pub table: &'a str,
    /// The plugin's `[X.config]` lines.
    pub config: &'a str,
    /// What the plugin logs right before it fails.
    pub logs: &'a str,
    /// How the host names the failure (`trapped`, and what trap).
    pub failure: &'a str,
}

/// Runs `datagen` (2,000 records in batches of 100, 3 partitions) through a
/// plugin that fails on purpose, and checks the failure is contained: the
/// plugin logged why, the host named the failure and restarted it (at least
/// twice, never giving up), and every record reached the topic exactly once
/// (a restarted plugin gets its batch again). Returns what was consumed.
pub fn crash_is_contained(case: Crash<'_>) -> Vec<crate::Consumed> {
    let dir = crate::Scratch::new(case.name);
    let topic = crate::unique_topic(case.name);
    let count = 2_000u64;
    let uses = match case.world {
        "partitioner" => "partitioner = \"crasher\"",
        _ => "transforms = [\"crasher\"]",
    };
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[runtime]
restart_backoff_ms = 10
max_restarts = 100

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{topic}"
partitions = 3
batch_size = 100
{uses}
[source.config]
count = {count}
timestamp = "none"

[[{world}]]
name = "crasher"
wasm = "{wasm}"
{table}
[{world}.config]
{plugin_config}
"#,
        brokers = crate::brokers(),
        datagen = crate::artifacts::DATAGEN,
        world = case.world,
        wasm = case.wasm,
        table = case.table,
        plugin_config = case.config,
    );
    let (s, stderr) = crate::run_ok(&dir, &config);
    assert!(stderr.contains(case.logs), "no `{}`: {stderr}", case.logs);
    assert!(
        stderr.contains(case.failure),
        "the failure is named `{}`: {stderr}",
        case.failure
    );
    assert!(crate::counter(&s, "crasher", "restarts") >= 2, "{s}");
    assert_eq!(s["plugins"]["crasher"]["gave_up"], false, "{s}");
    let records = crate::consume_all(
        &crate::brokers(),
        &topic,
        std::time::Duration::from_millis(500),
    )
    .expect("consume");
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count).collect::<Vec<_>>(), "every record once");
    assert_eq!(crate::counter(&s, "gen", "failed"), 0, "{s}");
    records
}

/// A source (example `name`, a counter with the SDK's checkpoints) stopped
/// mid-way continues after its committed checkpoint in the next run, and is
/// told what was committed (delivery feedback). The same test for every
/// language's SDK.
pub fn source_resumes_from_its_checkpoint(name: &str) {
    use crate::{
        Scratch, brokers, consume_all, counter, read_summary, sigterm, spawn_run, unique_topic,
        wait_for_log, wait_with_limit,
    };
    use std::time::Duration;

    let dir = Scratch::new(name);
    let topic = unique_topic(name);
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
        counter = plugin(name),
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
    let header = |r: &crate::Consumed, name: &str| {
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
