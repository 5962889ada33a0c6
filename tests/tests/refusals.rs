//! Records Kafka refuses are reported with their cause and counted as
//! failed, never silently lost, and the run goes on.

use streamplug_tests::{Scratch, artifacts, brokers, counter, run_ok, unique_topic};

#[test]
fn records_refused_by_broker_or_producer_are_counted_with_cause() {
    let dir = Scratch::new("refused");
    let small_topic = unique_topic("refused-small");
    let any_topic = unique_topic("refused-any");
    let (s, stderr) = run_ok(
        &dir,
        &format!(
            r#"
[kafka]
brokers = "{brokers}"
# Uncompressed, so that the broker sees each record's real size.
compression = "none"

# The broker refuses these: the topic takes at most 1,000-byte batches.
[[source]]
name = "too-big-for-topic"
wasm = "{big}"
topic = "{small_topic}"
topic_config = {{ "max.message.bytes" = "1000" }}
[source.config]
count = 3
value_size = 3000

# The producer refuses these before they leave: above message.max.bytes.
# Between librdkafka's default (1,000,000) and the host's default
# max_record_bytes (1 MiB): with neither written in the file, the two are
# not checked against each other at startup.
[[source]]
name = "too-big-for-producer"
wasm = "{big}"
topic = "{any_topic}"
[source.config]
count = 3
value_size = 1040000

[[source]]
name = "fine"
wasm = "{datagen}"
topic = "{any_topic}"
[source.config]
count = 100
"#,
            brokers = brokers(),
            big = artifacts::TEST_BIG_RECORD,
            datagen = artifacts::DATAGEN,
        ),
    );
    for name in ["too-big-for-topic", "too-big-for-producer"] {
        assert_eq!(counter(&s, name, "records_in"), 3, "{s}");
        assert_eq!(counter(&s, name, "failed"), 3, "{s}");
        assert_eq!(counter(&s, name, "delivered"), 0, "{s}");
        let causes = s["plugins"][name]["failures"].to_string().to_lowercase();
        assert!(
            causes.contains("too large"),
            "{name}: cause not named: {causes}"
        );
    }
    assert!(
        s["plugins"]["too-big-for-topic"]["failures"]
            .to_string()
            .contains("refused by Kafka")
    );
    assert!(
        s["plugins"]["too-big-for-producer"]["failures"]
            .to_string()
            .contains("refused by the producer")
    );
    assert!(
        stderr.contains("too-big-for-topic") && stderr.contains("record failed"),
        "the refusal is logged with the plugin's name:\n{stderr}"
    );
    assert_eq!(counter(&s, "fine", "delivered"), 100);
}

#[test]
fn partitions_out_of_range_fail_each_record_with_the_partition_named() {
    let dir = Scratch::new("badpartition");
    let topic = unique_topic("badpartition");
    let (s, stderr) = run_ok(
        &dir,
        &format!(
            "[kafka]\nbrokers = \"{}\"\n[[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\npartitions = 2\n\
             partitioner = \"wrong\"\n[source.config]\ncount = 100\n\
             [[partitioner]]\nname = \"wrong\"\nwasm = \"{}\"\n",
            brokers(),
            artifacts::DATAGEN,
            artifacts::TEST_BAD_PARTITION
        ),
    );
    assert_eq!(counter(&s, "gen", "failed"), 100, "{s}");
    assert_eq!(counter(&s, "gen", "delivered"), 0);
    // bad-partition answers partition_count + 5.
    let causes = s["plugins"]["gen"]["failures"].to_string();
    assert!(
        causes.contains(&format!(
            "partitioner chose partition 7, topic `{topic}` has 2"
        )),
        "{causes}"
    );
    assert!(
        stderr.contains("record failed") && stderr.contains("plugin=\"gen\""),
        "{stderr}"
    );
}
