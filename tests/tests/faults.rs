//! Broken plugins beside a healthy one: the broken one is contained (logged
//! with its name and cause, restarted with backoff), the healthy one loses
//! nothing, and the host keeps running.

use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, assert_complete, counter, healthy_datagen, read_summary, sigterm,
    spawn_run, unique_topic, wait_with_limit,
};

/// Runs `broken` (a `[[source]]` table body) beside a healthy datagen for a
/// few seconds, SIGTERMs the host, and returns (summary, stderr).
fn run_beside_healthy(name: &str, broken: &str) -> (serde_json::Value, String) {
    let dir = Scratch::new(name);
    let healthy_topic = unique_topic("healthy");
    let broken_topic = unique_topic(name);
    let count = 20_000;
    let text = format!(
        "{}\n[[source]]\nname = \"broken\"\ntopic = \"{broken_topic}\"\n{broken}\n[runtime]\nrestart_backoff_ms = 50\nrestart_backoff_max_ms = 400\nmax_restarts = 1000\n",
        healthy_datagen("healthy", &healthy_topic, count)
    );
    let config = dir.write("c.toml", &text);
    let summary_path = dir.path().join("summary.json");
    let mut child = spawn_run(&config, &summary_path, dir.path());
    std::thread::sleep(Duration::from_secs(5));
    sigterm(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "host exited with {status}: {stderr}");
    let summary = read_summary(&summary_path);
    assert_eq!(counter(&summary, "healthy", "delivered"), count, "{stderr}");
    assert_eq!(counter(&summary, "healthy", "failed"), 0);
    assert_complete(&healthy_topic, count);
    (summary, stderr)
}

fn assert_failed_with(summary: &serde_json::Value, stderr: &str, cause: &str) {
    assert!(
        counter(summary, "broken", "restarts") >= 2,
        "restarted repeatedly: {summary}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("plugin failed") && l.contains("broken"))
        .unwrap_or_else(|| panic!("no failure logged with the plugin's name:\n{stderr}"));
    assert!(
        line.contains(cause),
        "failure line does not name `{cause}`: {line}"
    );
}

#[test]
fn panicking_source_is_restarted_and_the_panic_is_reported() {
    let (s, stderr) = run_beside_healthy(
        "panic",
        &format!(
            "wasm = \"{}\"\n[source.config]\nn = 300\n",
            artifacts::TEST_PANIC_ON_NTH
        ),
    );
    // The failure names the trap and carries the panic message.
    assert_failed_with(
        &s,
        &stderr,
        "panic-on-nth: reached record 300, as configured",
    );
    assert_failed_with(&s, &stderr, "trapped: wasm trap");
    // Records made before each panic were handed over and delivered.
    assert!(counter(&s, "broken", "delivered") >= 300, "{s}");
    assert_eq!(counter(&s, "broken", "failed"), 0);
}

#[test]
fn infinite_loop_is_interrupted_at_its_cpu_deadline() {
    let (s, stderr) = run_beside_healthy(
        "loop",
        &format!(
            "wasm = \"{}\"\nlimits = {{ call_timeout_ms = 100 }}\n",
            artifacts::TEST_INFINITE_LOOP
        ),
    );
    assert_failed_with(
        &s,
        &stderr,
        "CPU time limit exceeded: a call ran longer than 100 ms",
    );
}

#[test]
fn memory_bomb_is_stopped_at_its_memory_limit() {
    let (s, stderr) = run_beside_healthy(
        "bomb",
        &format!(
            "wasm = \"{}\"\nlimits = {{ memory = \"32MiB\" }}\n",
            artifacts::TEST_MEMORY_BOMB
        ),
    );
    assert_failed_with(&s, &stderr, "memory limit exceeded");
    assert_failed_with(&s, &stderr, "its limit is 32.0 MiB");
    // It was refused a size above the limit, not rounded down to it.
    let asked: f64 = stderr
        .split("grow its memory to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {stderr}"));
    assert!(asked > 32.0, "asked for {asked} MiB");
}

#[test]
fn malformed_output_is_refused_with_the_rule_it_broke() {
    let (s, stderr) = run_beside_healthy(
        "malformed",
        &format!("wasm = \"{}\"\n", artifacts::TEST_BAD_OUTPUT),
    );
    assert_failed_with(&s, &stderr, "invalid output from poll-records: record 0");
    assert_eq!(counter(&s, "broken", "delivered"), 0);
}

#[test]
fn batch_over_the_byte_budget_is_refused() {
    // The budget is the room under the in-flight byte cap (64 KiB here);
    // the plugin returns a batch two 1,000-byte records past it.
    let (s, stderr) = run_beside_healthy(
        "over-budget",
        &format!(
            "wasm = \"{}\"\nmax_in_flight_bytes = \"64KiB\"\n[source.config]\nmode = \"over_budget\"\n",
            artifacts::TEST_BAD_OUTPUT
        ),
    );
    assert_failed_with(&s, &stderr, "invalid output from poll-records: a batch of");
    assert_failed_with(&s, &stderr, "over the budget of 65536 bytes");
    assert_eq!(counter(&s, "broken", "delivered"), 0);
}

#[test]
fn transform_failing_on_init_stalls_only_its_own_pipeline() {
    let (s, stderr) = run_beside_healthy(
        "init",
        &format!(
            "wasm = \"{}\"\ntransforms = [\"bad-init\"]\n\n[[transform]]\nname = \"bad-init\"\nwasm = \"{}\"\n",
            artifacts::DATAGEN,
            artifacts::TEST_TRAP_ON_INIT
        ),
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("plugin failed") && l.contains("bad-init"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("setup trapped"), "{line}");
    assert!(counter(&s, "bad-init", "restarts") >= 2);
    // The batch in hand when the signal came could not pass the transform:
    // it is counted as failed, with the cause, rather than lost.
    assert_eq!(counter(&s, "broken", "delivered"), 0);
    let failed = counter(&s, "broken", "failed");
    assert_eq!(failed, counter(&s, "broken", "records_in"), "{s}");
    assert!(
        s["plugins"]["broken"]["failures"]
            .to_string()
            .contains("shutdown while transform `bad-init` was failing")
    );
}

#[test]
fn a_plugin_that_keeps_failing_is_given_up_on_and_the_run_ends() {
    let dir = Scratch::new("giveup");
    let healthy_topic = unique_topic("giveup-healthy");
    let config = format!(
        "{}\n[[source]]\nname = \"broken\"\ntopic = \"{}\"\nwasm = \"{}\"\n[source.config]\nn = 10\n\
         [runtime]\nrestart_backoff_ms = 20\nmax_restarts = 3\n",
        healthy_datagen("healthy", &healthy_topic, 1_000),
        unique_topic("giveup-broken"),
        artifacts::TEST_PANIC_ON_NTH,
    );
    // No signal: the run ends by itself once the healthy source is done and
    // the broken one has been given up on.
    let (s, stderr) = streamplug_tests::run_ok(&dir, &config);
    assert_eq!(s["plugins"]["broken"]["gave_up"], true, "{s}");
    assert_eq!(counter(&s, "broken", "restarts"), 3);
    assert!(
        stderr.contains("giving up after 4 failures within 60 s"),
        "{stderr}"
    );
    assert_eq!(s["plugins"]["healthy"]["gave_up"], false);
    assert_complete(&healthy_topic, 1_000);
}
