//! A plugin blocked in a WASI wait (it sleeps for an hour, as a newcomer
//! pacing a source with `std::thread::sleep` would) is held to its call's
//! time limit, and let go at shutdown, while a healthy source beside it
//! loses nothing.

use std::time::{Duration, Instant};

use streamplug_tests::{
    Scratch, artifacts, assert_complete, brokers, consume_all, counter, healthy_datagen,
    read_summary, sigterm, spawn_run, unique_topic, wait_for_log, wait_with_limit,
};

/// A `[[source]]` running the sleepy plugin, with `limits`.
fn sleepy(topic: &str, limits: &str) -> String {
    format!(
        "\n[[source]]\nname = \"sleepy\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nlimits = {{ {limits} }}\n",
        artifacts::TEST_SLEEPY
    )
}

#[test]
fn a_sleep_ends_at_the_call_time_limit_and_fails_the_call() {
    let dir = Scratch::new("sleep-deadline");
    let healthy_topic = unique_topic("sleep-deadline-healthy");
    let count = 5_000;
    let text = format!(
        "{}{}\n[runtime]\nrestart_backoff_ms = 50\nmax_restarts = 2\n",
        healthy_datagen("healthy", &healthy_topic, count),
        sleepy(&unique_topic("sleep-deadline"), "call_timeout_ms = 500"),
    );
    let config = dir.write("c.toml", &text);
    let summary_path = dir.path().join("summary.json");
    let started = Instant::now();
    let mut child = spawn_run(&config, &summary_path, dir.path());
    // Three calls of 500 ms each, then given up: the run ends by itself
    // once the healthy source is done (an hour's sleep would hang it).
    let status = wait_with_limit(&mut child, Duration::from_secs(90));
    let took = started.elapsed();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let summary = read_summary(&summary_path);
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sleepy") && l.contains("plugin failed"))
        .collect();
    assert_eq!(failures.len(), 3, "one failure per call:\n{stderr}");
    for line in &failures {
        assert!(
            line.contains("call time limit exceeded: a call ran longer than 500 ms, blocked in a WASI sleep or poll"),
            "the failure names the deadline and the wait: {line}"
        );
    }
    assert_eq!(summary["plugins"]["sleepy"]["gave_up"], true, "{summary}");
    assert_eq!(counter(&summary, "sleepy", "records_in"), 0);
    assert_eq!(counter(&summary, "healthy", "delivered"), count, "{stderr}");
    assert_complete(&healthy_topic, count);
    assert!(
        took < Duration::from_secs(60),
        "ended in {took:?}, not after an hour's sleep"
    );
    // Every source finished or was given up on: a run that ends by itself
    // exits 0, with its summary.
    assert!(status.success(), "exit {status}: {stderr}");
}

#[test]
fn sigterm_lets_go_of_a_plugin_blocked_in_a_sleep() {
    let dir = Scratch::new("sleep-sigterm");
    let healthy_topic = unique_topic("sleep-sigterm-healthy");
    // The call may block for an hour: only the stop can end it.
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
linger_ms = 20

[[source]]
name = "healthy"
wasm = "{datagen}"
topic = "{healthy_topic}"
[source.config]
rate = 5000
{sleepy}"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
        sleepy = sleepy(&unique_topic("sleep-sigterm"), "call_timeout_ms = 3600000"),
    );
    let config = dir.write("c.toml", &text);
    let summary_path = dir.path().join("summary.json");
    let mut child = spawn_run(&config, &summary_path, dir.path());
    wait_for_log(dir.path(), "running 2 source(s)");
    std::thread::sleep(Duration::from_secs(2));
    sigterm(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(
        stderr.contains(
            "blocked in a WASI wait (a sleep or poll) and was let go: its pipeline is stopping"
        ),
        "the log says why the call ended:\n{stderr}"
    );
    assert!(
        !stderr.contains("plugin failed"),
        "being let go at shutdown is not a failure:\n{stderr}"
    );

    let s = read_summary(&summary_path);
    assert_eq!(s["plugins"]["sleepy"]["gave_up"], false, "{s}");
    assert_eq!(counter(&s, "sleepy", "restarts"), 0, "{s}");
    let delivered = counter(&s, "healthy", "delivered");
    assert!(delivered > 0, "the healthy source ran: {s}");
    assert_eq!(counter(&s, "healthy", "failed"), 0);
    assert_eq!(counter(&s, "healthy", "records_in"), delivered);
    let records = consume_all(&brokers(), &healthy_topic, Duration::from_millis(500)).unwrap();
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..delivered).collect::<Vec<_>>(),
        "everything the healthy source handed over is in Kafka, once"
    );
}

#[test]
fn a_new_version_takes_over_from_a_plugin_blocked_in_a_sleep() {
    let dir = Scratch::new("sleep-swap");
    let topic = unique_topic("sleep-swap");
    let wasm = dir.path().join("source.wasm");
    std::fs::copy(artifacts::TEST_SLEEPY, &wasm).expect("copy the sleepy plugin");
    // `count` is for the new version (datagen); the sleepy one ignores it.
    let text = format!(
        "[kafka]\nbrokers = \"{}\"\n[[source]]\nname = \"src\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
         limits = {{ call_timeout_ms = 3600000 }}\n[source.config]\ncount = 500\n",
        brokers(),
        wasm.display(),
    );
    let config = dir.write("c.toml", &text);
    let summary_path = dir.path().join("summary.json");
    let mut child = spawn_run(&config, &summary_path, dir.path());
    wait_for_log(dir.path(), "running 1 source(s)");
    std::thread::sleep(Duration::from_secs(1));
    // A new version of the source: the swap waits for the batch boundary,
    // which only comes if the blocked call is let go.
    let tmp = dir.path().join("source.wasm.tmp");
    std::fs::copy(artifacts::DATAGEN, &tmp).expect("copy datagen");
    std::fs::rename(&tmp, &wasm).expect("replace the plugin file");
    // The new version makes its 500 records and finishes: the run ends.
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(
        stderr.contains("and was let go: a new version is taking over"),
        "{stderr}"
    );
    let s = read_summary(&summary_path);
    assert_eq!(
        s["plugins"]["src"]["swaps"].as_array().map(Vec::len),
        Some(1),
        "{s}"
    );
    assert_eq!(
        counter(&s, "src", "restarts"),
        0,
        "being let go is not a failure: {s}"
    );
    assert_eq!(counter(&s, "src", "delivered"), 500, "{s}");
    assert_complete(&topic, 500);
}
