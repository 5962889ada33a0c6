//! The density bench (`src/bin/density.rs`) at a small scale: 20 instances,
//! 2 of them active, for 1 s. Checks that every scenario ran, that every
//! instance started and stayed up, and that the active sources produced.
//! It never checks a measured number.

use std::process::Command;

use serde_json::Value;
use streamplug_tests::{brokers, unique_topic};

#[test]
fn density_bench_runs_at_small_scale() {
    // Fails early, with instructions, when no broker is configured.
    brokers();
    let out = std::env::temp_dir().join(format!("{}.json", unique_topic("density-smoke")));
    let status = Command::new(env!("CARGO_BIN_EXE_density"))
        .args([
            "--instances",
            "20",
            "--active",
            "2",
            "--seconds",
            "1",
            "--out",
        ])
        .arg(&out)
        .status()
        .expect("cannot run the density bench");
    assert!(status.success(), "the density bench failed: {status}");
    let text = std::fs::read_to_string(&out).expect("the density bench wrote no report");
    let _ = std::fs::remove_file(&out);
    let report: Value = serde_json::from_str(&text).expect("the report is not JSON");
    let scenarios = &report["scenarios"];
    for name in [
        "sandbox-pooling",
        "sandbox-on-demand",
        "sandbox-pooling-separate-loads",
    ] {
        assert_eq!(scenarios[name]["instances"], 20, "{name}: {text}");
    }
    for (name, instances) in [("host", 20), ("host-active-only", 2)] {
        let s = &scenarios[name];
        assert_eq!(s["plugins_in_summary"], instances, "{name}: {text}");
        assert_eq!(s["restarts"], 0, "{name}: {text}");
        assert_eq!(s["gave_up"], 0, "{name}: {text}");
        let delivered = s["active"]["delivered_per_source_whole_run"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no per-source counts: {text}"));
        assert_eq!(delivered.len(), 2, "{name}: {text}");
        assert!(
            delivered.iter().all(|d| d.as_u64() > Some(0)),
            "{name}: an active source delivered nothing: {text}"
        );
    }
}

/// A host with more plugin instances than pool slots says which setting to
/// raise, instead of failing obscurely.
#[test]
fn running_out_of_instance_slots_names_the_setting() {
    let dir = streamplug_tests::Scratch::new("slots");
    let topic = unique_topic("slots");
    let mut config = format!(
        "[kafka]\nbrokers = \"{}\"\n[runtime]\nmax_instances = 2\nmax_restarts = 0\n",
        brokers()
    );
    for i in 0..3 {
        config += &format!(
            "[[source]]\nname = \"gen{i}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n[source.config]\ncount = 3\nrate = 1\n",
            streamplug_tests::artifacts::DATAGEN
        );
    }
    let path = dir.write("config.toml", &config);
    let out = streamplug_tests::run_to_end(&path, &dir.path().join("summary.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("raise `runtime.max_instances`"), "{stderr}");
}
