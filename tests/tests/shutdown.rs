//! SIGTERM in the middle of a run: stop polling, flush, summarise, exit 0,
//! and everything the sources handed over is in Kafka.

use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, read_summary, sigterm, spawn_run,
    unique_topic, wait_with_limit,
};

#[test]
fn sigterm_mid_run_delivers_everything_handed_over() {
    let dir = Scratch::new("sigterm");
    let topic = unique_topic("sigterm");
    let config = dir.write(
        "c.toml",
        &format!(
            r#"
[kafka]
brokers = "{brokers}"
linger_ms = 50

[[source]]
name = "endless"
wasm = "{datagen}"
topic = "{topic}"
partitions = 3
[source.config]
rate = 20000
"#,
            brokers = brokers(),
            datagen = artifacts::DATAGEN,
        ),
    );
    let summary_path = dir.path().join("summary.json");
    let mut child = spawn_run(&config, &summary_path, dir.path());
    std::thread::sleep(Duration::from_secs(4));
    sigterm(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "exit {status}: {stderr}");

    let s = read_summary(&summary_path);
    let delivered = counter(&s, "endless", "delivered");
    assert!(
        delivered > 1_000,
        "the source ran before the signal ({delivered} delivered)"
    );
    assert_eq!(counter(&s, "endless", "failed"), 0);
    assert_eq!(
        counter(&s, "endless", "produced"),
        delivered,
        "everything handed over was delivered"
    );
    assert_eq!(
        counter(&s, "endless", "records_in"),
        delivered,
        "everything polled was handed over"
    );

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).unwrap();
    assert_eq!(
        records.len() as u64,
        delivered,
        "consumer count equals the summary's delivered count"
    );
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..delivered).collect::<Vec<_>>(),
        "no gap and no duplicate"
    );
}
