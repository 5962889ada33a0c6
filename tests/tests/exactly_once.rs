//! Exactly-once sources against the real broker: records and checkpoint in
//! one transaction, so `kill -9` at any point leaves a `read_committed`
//! consumer with every record once; a record the broker refuses aborts the
//! transaction and is named, never skipped.

use std::collections::HashMap;
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, consume_all_uncommitted, counter,
    kill_9_at_random_points, read_summary, run_to_end, spawn_run, unique_topic, wait_with_limit,
};

const RECORDS: u64 = 150_000;
const RATE: u64 = 20_000;

fn source(name: &str, topic: &str, delivery: &str, config: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 500\n\
         delivery = \"{delivery}\"\nmax_in_flight_records = 2000\n\
         [source.config]\n{config}\n",
        artifacts::DATAGEN
    )
}

fn header(checkpoints: &str) -> String {
    format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"kafka\"\ntopic = \"{checkpoints}\"\n\
         interval_ms = 100\n",
        brokers()
    )
}

/// Each record's seq, checked to be exactly `0..RECORDS` in order (one
/// partition: the order of a committed log is the order produced).
fn assert_exactly_once(label: &str, seqs: &[u64]) {
    let mut counts: HashMap<u64, u32> = HashMap::new();
    for s in seqs {
        *counts.entry(*s).or_default() += 1;
    }
    let missing = (0..RECORDS).filter(|n| !counts.contains_key(n)).count();
    let duplicated = counts.values().filter(|&&c| c > 1).count();
    assert_eq!(
        (missing, duplicated, seqs.len() as u64),
        (0, 0, RECORDS),
        "{label}: missing, duplicated, total"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{label}: out of order"
    );
}

/// Two exactly-once sources in one host, killed five times at pseudo-random
/// points, then run to the end. Two, because a crashed run leaves each one's
/// transaction open, and an open transaction hides every checkpoint written
/// after it began: the other source's included.
#[test]
fn kill_9_five_times_leaves_every_record_exactly_once_for_read_committed() {
    let dir = Scratch::new("eos-kill9");
    let (topic_a, topic_b) = (unique_topic("eos-a"), unique_topic("eos-b"));
    let gen_config = format!("count = {RECORDS}\nrate = {RATE}\ntimestamp = \"none\"");
    let config = header(&unique_topic("eos-checkpoints"))
        + &source("gen-a", &topic_a, "exactly_once", &gen_config)
        + &source("gen-b", &topic_b, "exactly_once", &gen_config);
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    kill_9_at_random_points(&path, &summary, dir.path(), 0x9E37_79B9_7F4A_7C15, 5);
    let mut last = spawn_run(&path, &summary, dir.path());
    assert!(wait_with_limit(&mut last, Duration::from_secs(120)).success());
    let s = read_summary(&summary);
    for (name, topic) in [("gen-a", &topic_a), ("gen-b", &topic_b)] {
        assert_eq!(counter(&s, name, "failed"), 0, "{s}");
        assert!(counter(&s, name, "transactions") > 0, "{s}");
        let committed = consume_all(&brokers(), topic, Duration::from_secs(1)).expect("consume");
        let seqs: Vec<u64> = committed.iter().map(|r| r.seq()).collect();
        assert_exactly_once(name, &seqs);
        // The log itself holds the records of the transactions the kills
        // left open: the guarantee is the transaction's, not luck.
        let everything =
            consume_all_uncommitted(&brokers(), topic, Duration::from_secs(1)).expect("consume");
        eprintln!(
            "{name}: {} records read_committed, {} in the log (aborted by the 5 kills: {})",
            committed.len(),
            everything.len(),
            everything.len() - committed.len()
        );
    }
}

/// A record the broker refuses cannot be skipped without breaking
/// exactly-once: the transaction aborts, is retried from the last committed
/// checkpoint, and the source stops with the broker's reason; nothing of the
/// aborted transactions is visible.
#[test]
fn a_record_the_broker_refuses_aborts_and_names_the_cause() {
    let dir = Scratch::new("eos-refused");
    let topic = unique_topic("eos-refused");
    // The topic takes batches of at most 2000 bytes; every value is 3000.
    // Uncompressed, so that the broker sees each record's real size.
    let config = header(&unique_topic("eos-refused-checkpoints"))
        .replace("[checkpoints]", "compression = \"none\"\n[checkpoints]")
        + "[runtime]\nmax_restarts = 2\nrestart_backoff_ms = 10\n"
        + &source(
            "gen",
            &topic,
            "exactly_once",
            "count = 100\nvalue_size = 3000\ntimestamp = \"none\"",
        )
        + "[source.topic_config]\n\"max.message.bytes\" = \"2000\"\n";
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let out = run_to_end(&path, &summary);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s = read_summary(&summary);
    let gen_summary = &s["plugins"]["gen"];
    assert_eq!(gen_summary["gave_up"], true, "{s}\n{stderr}");
    assert_eq!(counter(&s, "gen", "delivered"), 0, "{s}");
    assert_eq!(counter(&s, "gen", "transactions"), 0, "{s}");
    let aborts = gen_summary["aborts"].as_object().expect("aborts by cause");
    let (cause, n) = aborts.iter().next().expect("an abort");
    assert!(
        cause.contains(&format!("refused by Kafka for topic `{topic}`"))
            && cause.to_lowercase().contains("too large"),
        "{cause}"
    );
    assert_eq!(n, 3, "the first try and 2 more (max_restarts = 2)");
    assert!(
        stderr.contains("giving up after 3 aborts in a row"),
        "{stderr}"
    );
    let visible = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    assert!(visible.is_empty(), "{} records visible", visible.len());
}

/// Exactly-once needs the checkpoint in Kafka, where the transaction is.
#[test]
fn exactly_once_without_a_kafka_checkpoint_store_is_refused() {
    let dir = Scratch::new("eos-config");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"file\"\ndir = \"{}\"\n",
        brokers(),
        dir.path().join("ck").display()
    ) + &source("gen", "eos-config", "exactly_once", "count = 1");
    let path = dir.write("config.toml", &config);
    let out = run_to_end(&path, &dir.path().join("summary.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("field `delivery`") && stderr.contains("store = \"kafka\""),
        "{stderr}"
    );
}

/// A transaction left open in the checkpoint topic (another host's
/// exactly-once source, or a crashed run's not yet aborted) hides every
/// checkpoint written after it began. A start must wait for it to end, not
/// resume from the older checkpoint it can see and produce records again.
#[test]
fn a_start_waits_for_an_open_transaction_instead_of_resuming_from_an_older_checkpoint() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let dir = Scratch::new("eos-open-txn");
    let topic = unique_topic("eos-open-txn");
    let checkpoints = unique_topic("eos-open-txn-checkpoints");
    let config = |count: u64| {
        header(&checkpoints)
            + &source(
                "gen",
                &topic,
                "exactly_once",
                &format!("count = {count}\nrate = 1000\ntimestamp = \"none\""),
            )
    };
    let summary = dir.path().join("summary.json");
    // Run 1: checkpoint at 1000.
    let first = dir.write("first.toml", &config(1000));
    assert!(run_to_end(&first, &summary).status.success());

    // Run 2 goes on to 4000; a second producer opens a transaction on the
    // checkpoint topic while it runs, so its later checkpoints are written
    // after that transaction began.
    let second = dir.write("second.toml", &config(4000));
    let mut run2 = spawn_run(&second, &summary, dir.path());
    std::thread::sleep(Duration::from_secs(2));
    let zombie: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("transactional.id", format!("{checkpoints}-zombie"))
        .create()
        .expect("zombie producer");
    zombie
        .init_transactions(Duration::from_secs(30))
        .expect("init");
    zombie.begin_transaction().expect("begin");
    zombie
        .send(BaseRecord::to(&checkpoints).key("zombie").payload("x"))
        .expect("send");
    zombie.flush(Duration::from_secs(10)).expect("flush");
    assert!(wait_with_limit(&mut run2, Duration::from_secs(60)).success());
    assert_eq!(counter(&read_summary(&summary), "gen", "delivered"), 3000);

    // Run 3 starts while the transaction is still open; it ends 6 s later.
    let aborter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(6));
        zombie
            .abort_transaction(Duration::from_secs(30))
            .expect("abort");
    });
    let out = run_to_end(&second, &summary);
    aborter.join().expect("aborter");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for an open transaction in the checkpoint topic"),
        "{stderr}"
    );
    assert_eq!(
        counter(&read_summary(&summary), "gen", "delivered"),
        0,
        "run 3 resumed from an older checkpoint\n{stderr}"
    );
    let committed = consume_all(&brokers(), &topic, Duration::from_secs(1)).expect("consume");
    let mut seqs: Vec<u64> = committed.iter().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..4000).collect::<Vec<u64>>());
}
