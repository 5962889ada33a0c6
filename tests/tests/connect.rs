//! Startup against a broker that does not answer: the address and the wait
//! are named at once, Ctrl-C stops the wait, and giving up names the cause.

use std::time::{Duration, Instant};

use streamplug_tests::{
    Scratch, artifacts, run_to_end, sigint, spawn_run, wait_for_log, wait_with_limit,
};

/// Nothing listens on port 1: every connection is refused.
const NOWHERE: &str = "127.0.0.1:1";

fn config(connect_timeout_ms: u64) -> String {
    format!(
        r#"
[kafka]
brokers = "{NOWHERE}"
connect_timeout_ms = {connect_timeout_ms}

[[source]]
name = "gen"
wasm = "{wasm}"
topic = "never-made"
"#,
        wasm = artifacts::DATAGEN,
    )
}

#[test]
fn an_unreachable_broker_is_named_with_its_cause_when_the_wait_ends() {
    let dir = Scratch::new("connect-timeout");
    let path = dir.write("config.toml", &config(3_000));
    let started = Instant::now();
    let out = run_to_end(&path, &dir.path().join("summary.json"));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a run without a broker succeeded: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "connecting to Kafka at {NOWHERE} (waiting up to 3 s"
        )),
        "the wait is not announced: {stderr}"
    );
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        error.contains(&format!("cannot reach Kafka at {NOWHERE} within 3 s"))
            && error.contains("Connection refused"),
        "the error names neither the address nor the cause: {error}"
    );
    // Three seconds of waiting, plus loading the plugin; never a long silence.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn ctrl_c_while_waiting_for_the_broker_stops_at_once() {
    let dir = Scratch::new("connect-ctrl-c");
    let path = dir.write("config.toml", &config(120_000));
    let mut child = spawn_run(&path, &dir.path().join("summary.json"), dir.path());
    wait_for_log(dir.path(), &format!("connecting to Kafka at {NOWHERE}"));
    let sent = Instant::now();
    sigint(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    let took = sent.elapsed();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped before Kafka could be reached") && stderr.contains(NOWHERE),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(3),
        "Ctrl-C took {took:?} to stop the run"
    );
}
