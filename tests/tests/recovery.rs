//! Crash recovery against the real broker: `kill -9` of the host at random
//! points, restarts from the committed checkpoint, and what a damaged or
//! missing checkpoint store does.

use std::collections::HashMap;
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, kill_9_at_random_points, read_summary, run_to_end,
    spawn_run, unique_topic, wait_with_limit,
};

const RECORDS: u64 = 150_000;
const RATE: u64 = 20_000;
const IN_FLIGHT: u64 = 2_000;
const INTERVAL_MS: u64 = 100;

fn config(topic: &str, store: &str) -> String {
    format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\n{store}\ninterval_ms = {INTERVAL_MS}\n\
         [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 500\n\
         max_in_flight_records = {IN_FLIGHT}\n\
         [source.config]\ncount = {RECORDS}\nrate = {RATE}\ntimestamp = \"none\"\n",
        brokers(),
        artifacts::DATAGEN
    )
}

/// Kills the host five times at pseudo-random points, then lets a last run
/// finish; every sequence number must be in the topic, and duplicates are
/// bounded by what can be delivered and not yet committed at a kill.
fn survives_kill_9(store: &str, label: &str) {
    let dir = Scratch::new(label);
    let topic = unique_topic(label);
    let path = dir.write("config.toml", &config(&topic, store));
    let summary = dir.path().join("summary.json");
    kill_9_at_random_points(&path, &summary, dir.path(), 0x2545_F491_4F6C_DD1D, 5);
    let mut last = spawn_run(&path, &summary, dir.path());
    assert!(wait_with_limit(&mut last, Duration::from_secs(120)).success());
    let s = read_summary(&summary);
    assert_eq!(s["plugins"]["gen"]["failed"], 0, "{s}");

    let records = consume_all(&brokers(), &topic, Duration::from_secs(1)).expect("consume");
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for r in &records {
        *seen.entry(r.seq()).or_default() += 1;
    }
    let missing: Vec<u64> = (0..RECORDS).filter(|n| !seen.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "{} missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        seen.len() as u64,
        RECORDS,
        "no sequence number outside 0..{RECORDS}"
    );
    let duplicates = records.len() as u64 - RECORDS;
    // At a kill, at most the records in flight plus those acknowledged since
    // the last commit (one interval at the source's rate, with slack for
    // a commit in progress) are delivered but not covered by the checkpoint.
    let per_kill = IN_FLIGHT + RATE * INTERVAL_MS * 3 / 1000 + 500;
    eprintln!(
        "{label}: {} records for {RECORDS}, {duplicates} duplicates over 5 kills (bound {})",
        records.len(),
        5 * per_kill
    );
    assert!(duplicates <= 5 * per_kill, "{duplicates} duplicates");
}

#[test]
fn kill_9_five_times_loses_nothing_with_the_file_store() {
    let dir = Scratch::new("ckpt-dir");
    let store = format!(
        "store = \"file\"\ndir = \"{}\"",
        dir.path().join("checkpoints").display()
    );
    survives_kill_9(&store, "kill9-file");
}

#[test]
fn kill_9_five_times_loses_nothing_with_the_kafka_store() {
    let store = format!(
        "store = \"kafka\"\ntopic = \"{}\"",
        unique_topic("checkpoints")
    );
    survives_kill_9(&store, "kill9-kafka");
}

#[test]
fn a_damaged_checkpoint_stops_the_start_unless_told_to_start_over() {
    let dir = Scratch::new("ckpt-damaged");
    let topic = unique_topic("ckpt-damaged");
    let store_dir = dir.path().join("checkpoints");
    std::fs::create_dir(&store_dir).unwrap();
    std::fs::write(
        store_dir.join("gen.checkpoint"),
        b"SPCK1\nnot a checkpoint at all, really not",
    )
    .unwrap();
    let store = format!("store = \"file\"\ndir = \"{}\"", store_dir.display());
    let path = dir.write(
        "config.toml",
        &config(&topic, &store).replace("count = 150000", "count = 1000"),
    );
    let summary = dir.path().join("summary.json");
    let out = run_to_end(&path, &summary);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("gen.checkpoint is damaged: its checksum does not match its content")
            && stderr.contains("checkpoints.corrupt = \"start_over\""),
        "{stderr}"
    );

    let path = dir.write(
        "config.toml",
        &config(&topic, &format!("{store}\ncorrupt = \"start_over\""))
            .replace("count = 150000", "count = 1000"),
    );
    let out = run_to_end(&path, &summary);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..1000).collect::<Vec<_>>(),
        "started from the beginning"
    );
}

#[test]
fn a_missing_store_is_an_error_when_the_config_says_so() {
    let dir = Scratch::new("ckpt-missing");
    let store = format!(
        "store = \"file\"\ndir = \"{}\"\nmissing = \"fail\"",
        dir.path().join("nowhere").display()
    );
    let path = dir.write(
        "config.toml",
        &config(&unique_topic("ckpt-missing"), &store),
    );
    let out = run_to_end(&path, &dir.path().join("summary.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("nowhere does not exist (checkpoints.missing = \"fail\")"),
        "{stderr}"
    );
}

/// A source is told which checkpoints are committed and how many of its
/// records failed and why, so that it can acknowledge upstream.
#[test]
fn a_source_learns_what_was_committed_and_what_failed() {
    let dir = Scratch::new("feedback");
    let topic = unique_topic("feedback");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"file\"\ndir = \"{}\"\ninterval_ms = 50\n\
         [[source]]\nname = \"acker\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 100\nmax_record_bytes = 1000\n\
         [source.config]\ncount = 1000\nbig_every = 10\n",
        brokers(),
        dir.path().join("checkpoints").display(),
        artifacts::TEST_ACKER
    );
    let path = dir.write("config.toml", &config);
    let out = run_to_end(&path, &dir.path().join("summary.json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    let report = records
        .iter()
        .find(|r| r.header("seq") == Some(b"report".as_slice()))
        .expect("the source's report record");
    let text = String::from_utf8_lossy(report.value.as_deref().unwrap_or_default()).into_owned();
    let causes = text
        .strip_prefix("committed=1000 failed=100 causes=")
        .unwrap_or_else(|| panic!("{text}"));
    // One cause per record size (the seq header's length varies).
    let mut told = 0;
    for cause in causes.split(';') {
        let (what, n) = cause.rsplit_once(':').expect("cause:count");
        assert!(
            what.ends_with("bytes is over max_record_bytes (1000)"),
            "{what}"
        );
        told += n.parse::<u64>().expect("count");
    }
    assert_eq!(told, 100, "{text}");
}
