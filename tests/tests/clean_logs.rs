//! A run that goes well prints nothing that looks like a failure: no WARN,
//! ERROR or FAIL line. Here: a run that resumes from the Kafka checkpoint
//! store, whose reader used to log `ERROR librdkafka: Global error:
//! PartitionEOF` (the quickstart test checks the embedded cluster's runs).

use streamplug_tests::{
    Scratch, artifacts, assert_complete, brokers, counter, run_ok, unique_topic,
};

fn assert_clean(run: &str, stderr: &str) {
    let alarming: Vec<&str> = stderr
        .lines()
        .filter(|l| ["WARN", "ERROR", "FAIL"].iter().any(|w| l.contains(w)))
        .collect();
    assert!(
        alarming.is_empty(),
        "{run}: a clean run logged {alarming:#?}\n{stderr}"
    );
}

#[test]
fn a_run_resumed_from_the_kafka_checkpoint_store_logs_no_warning_or_error() {
    let dir = Scratch::new("clean-resume");
    let (plain, exact) = (
        unique_topic("clean-resume"),
        unique_topic("clean-resume-eos"),
    );
    let count = 3_000;
    // The exactly-once source's checkpoints are written in transactions: the
    // checkpoint topic then ends with a commit marker, which the reader never
    // gets as a record, so it must read up to the partition's end.
    let source = |name: &str, topic: &str, delivery: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 100\n\
             delivery = \"{delivery}\"\n[source.config]\ncount = {count}\n",
            artifacts::DATAGEN
        )
    };
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[checkpoints]\nstore = \"kafka\"\ntopic = \"{}\"\ninterval_ms = 50\n{}{}",
        brokers(),
        unique_topic("clean-resume-checkpoints"),
        source("gen", &plain, "at_least_once"),
        source("eos", &exact, "exactly_once"),
    );
    let (first, stderr) = run_ok(&dir, &config);
    assert_clean("the first run", &stderr);
    for name in ["gen", "eos"] {
        assert_eq!(counter(&first, name, "delivered"), count, "{first}");
    }

    // The second run reads the stored checkpoints and has nothing left to make.
    let (second, stderr) = run_ok(&dir, &config);
    assert_clean("the resumed run", &stderr);
    for name in ["gen", "eos"] {
        assert_eq!(
            counter(&second, name, "records_in"),
            0,
            "resumed at the end: {second}"
        );
    }
    assert_complete(&plain, count);
    assert_complete(&exact, count);
}
