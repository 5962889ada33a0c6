//! The README's first command: the quickstart on the embedded cluster.

use std::path::Path;

use streamplug_tests::{Scratch, counter, read_summary, run_to_end};

#[test]
fn quickstart_runs_on_the_embedded_cluster() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.toml");
    let dir = Scratch::new("quickstart");
    let summary_path = dir.path().join("summary.json");
    let out = run_to_end(&config, &summary_path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("embedded in-process Kafka cluster (in-memory, not durable"),
        "{stderr}"
    );
    // A clean run prints nothing that looks like a failure (the embedded
    // cluster used to go away before the producer, which then warned).
    for word in ["WARN", "ERROR", "FAIL", "error"] {
        assert!(!stderr.contains(word), "`{word}` in a clean run: {stderr}");
    }
    let s = read_summary(&summary_path);
    assert_eq!(s["embedded_cluster"], true);
    // 30,000 generated, one kind in three kept by the filter.
    assert_eq!(counter(&s, "datagen", "records_in"), 30_000);
    assert_eq!(counter(&s, "datagen", "delivered"), 10_000);
    assert_eq!(counter(&s, "only-buys", "dropped"), 20_000);
    assert_eq!(counter(&s, "datagen", "failed"), 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("datagen") && stdout.contains("10000"),
        "summary table: {stdout}"
    );
}
