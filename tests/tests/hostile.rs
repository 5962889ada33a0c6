//! Hostile plugins, each in tenant `bad`, beside a healthy `datagen` in
//! tenant `good`: the healthy one loses nothing (every sequence number is
//! in its topic exactly once, and nothing else is), and the hostile one is
//! contained with a clear error. Other hostile cases live beside the
//! feature they attack: faults.rs (loop, memory bomb, panic), refusals.rs
//! (oversized records, bad partitions), capabilities.rs (files, sockets).

use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, assert_complete, brokers, counter, read_summary, sigterm, spawn_run,
    unique_topic, wait_with_limit,
};

const HEALTHY: u64 = 20_000;

struct Outcome {
    summary: serde_json::Value,
    stderr: String,
    good_topic: String,
}

/// `hostile` is TOML for tenant `bad`'s plugins; `{out}` in it is replaced
/// with a topic of tenant `bad`, `{good}` with tenant `good`'s topic.
fn beside_healthy_tenant(name: &str, hostile: &str) -> Outcome {
    let dir = Scratch::new(name);
    let good = unique_topic("good");
    let bad = unique_topic("bad");
    let hostile = hostile
        .replace("{out}", &format!("{bad}.out"))
        .replace("{good}", &good);
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"

[runtime]
restart_backoff_ms = 50
restart_backoff_max_ms = 400

[[tenant]]
name = "good"
topics = ["{good}"]

[[tenant]]
name = "bad"
topics = ["{bad}.*"]
dead_letter_topic = "{bad}.dlq"

[[source]]
name = "healthy"
tenant = "good"
wasm = "{datagen}"
topic = "{good}"
[source.config]
count = {HEALTHY}
{hostile}
"#,
        brokers = brokers(),
        datagen = artifacts::DATAGEN,
    );
    let path = dir.write("config.toml", &config);
    let summary_path = dir.path().join("summary.json");
    let mut child = spawn_run(&path, &summary_path, dir.path());
    std::thread::sleep(Duration::from_secs(6));
    sigterm(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(90));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{status}: {stderr}");
    let summary = read_summary(&summary_path);
    assert_eq!(
        counter(&summary, "healthy", "delivered"),
        HEALTHY,
        "{stderr}"
    );
    assert_eq!(counter(&summary, "healthy", "failed"), 0);
    assert_complete(&good, HEALTHY);
    Outcome {
        summary,
        stderr,
        good_topic: good,
    }
}

fn failure_line<'a>(stderr: &'a str, plugin: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.contains("plugin failed") && l.contains(&format!("plugin=\"{plugin}\"")))
        .unwrap_or_else(|| panic!("no failure logged for {plugin}:\n{stderr}"))
}

#[test]
fn a_million_fold_fan_out_is_stopped_by_its_memory_limit() {
    let o = beside_healthy_tenant(
        "fanout",
        &format!(
            "[[source]]\nname = \"feeder\"\ntenant = \"bad\"\nwasm = \"{}\"\ntopic = \"{{out}}\"\nbatch_size = 1\n\
             transforms = [\"flood\"]\n[[transform]]\nname = \"flood\"\ntenant = \"bad\"\nwasm = \"{}\"\n",
            artifacts::DATAGEN,
            artifacts::TEST_FANOUT
        ),
    );
    assert!(failure_line(&o.stderr, "flood").contains("memory limit exceeded"));
    assert!(counter(&o.summary, "flood", "restarts") >= 1);
}

#[test]
fn a_fan_out_that_fits_is_held_to_its_in_flight_cap() {
    // 5,000 copies per record fit in memory: the flood reaches the producer
    // and must wait within its own cap rather than fill the shared queue.
    // Three records, so the whole flood is produced before the stop (at
    // shutdown, records in hand are handed over regardless of caps).
    let o = beside_healthy_tenant(
        "fanout-fits",
        &format!(
            "[[source]]\nname = \"feeder\"\ntenant = \"bad\"\nwasm = \"{}\"\ntopic = \"{{out}}\"\nbatch_size = 1\n\
             max_in_flight_records = 2000\ntransforms = [\"flood\"]\n[source.config]\ncount = 3\nvalue_size = 10\n\
             [[transform]]\nname = \"flood\"\ntenant = \"bad\"\nwasm = \"{}\"\n[transform.config]\nfactor = 5000\n",
            artifacts::DATAGEN,
            artifacts::TEST_FANOUT
        ),
    );
    let s = &o.summary;
    assert_eq!(
        counter(s, "feeder", "delivered"),
        15_000,
        "the whole flood was produced: {s}"
    );
    // The cap held inside each 5,000-record batch (one record over at most).
    let peak = counter(s, "feeder", "peak_in_flight");
    assert!(
        peak > 1_000 && peak <= 2_001,
        "peak in flight {peak}, cap 2000"
    );
    assert_eq!(
        counter(s, "flood", "records_out"),
        5_000 * counter(s, "flood", "records_in")
    );
    // Everything handed over was accounted for.
    assert_eq!(
        counter(s, "feeder", "produced"),
        counter(s, "feeder", "delivered") + counter(s, "feeder", "failed")
    );
}

#[test]
fn a_very_slow_plugin_slows_only_itself() {
    let o = beside_healthy_tenant(
        "slow",
        &format!(
            "[[source]]\nname = \"sloth\"\ntenant = \"bad\"\nwasm = \"{}\"\ntopic = \"{{out}}\"\n[source.config]\nbusy_ms = 300\n",
            artifacts::TEST_SLOW
        ),
    );
    let s = &o.summary;
    assert!(counter(s, "sloth", "delivered") >= 10, "{s}");
    assert_eq!(
        counter(s, "sloth", "restarts"),
        0,
        "slow is not failed: {s}"
    );
}

#[test]
fn writing_to_another_tenants_topic_is_rejected_and_dead_lettered() {
    let o = beside_healthy_tenant(
        "trespass",
        &format!(
            "[[source]]\nname = \"trespasser\"\ntenant = \"bad\"\nwasm = \"{}\"\ntopic = \"{{out}}\"\ntransforms = [\"reroute\"]\n\
             [source.config]\ncount = 500\n\
             [[transform]]\nname = \"reroute\"\ntenant = \"bad\"\nwasm = \"{}\"\n[transform.config]\nroute_topic = \"{{good}}\"\n",
            artifacts::DATAGEN,
            artifacts::TEST_PASSTHROUGH
        ),
    );
    let s = &o.summary;
    assert_eq!(counter(s, "trespasser", "failed"), 500, "{s}");
    assert_eq!(counter(s, "trespasser", "dead_lettered"), 500, "{s}");
    assert_eq!(counter(s, "trespasser", "delivered"), 0);
    let causes = s["plugins"]["trespasser"]["failures"].to_string();
    assert!(
        causes.contains(&format!(
            "topic `{}` is not one this pipeline may produce to",
            o.good_topic
        )),
        "{causes}"
    );
}
