//! Records that cannot reach their topic go to the tenant's dead-letter
//! topic, with the cause, the source plugin and the original topic in
//! headers: whether the host, the producer or the broker refused them.

use std::collections::BTreeMap;
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, datagen, run_ok, unique_topic,
};

#[test]
fn failed_records_are_dead_lettered_with_cause_plugin_and_topic() {
    let dir = Scratch::new("dlq");
    let base = unique_topic("acme");
    let (events, small, dlq) = (
        format!("{base}.events"),
        format!("{base}.small"),
        format!("{base}.dlq"),
    );
    let (s, _) = run_ok(
        &dir,
        &format!(
            r#"
[kafka]
brokers = "{brokers}"
# Uncompressed, so that the broker sees each record's real size.
compression = "none"

[[tenant]]
name = "acme"
topics = ["{base}.*"]
dead_letter_topic = "{dlq}"

# Refused by the host: over its max_record_bytes.
[[source]]
name = "oversize"
tenant = "acme"
wasm = "{big}"
topic = "{events}"
max_record_bytes = 1000
[source.config]
count = 3
value_size = 5000

# Refused by the host: routed to a topic the pipeline may not use.
[[source]]
name = "router"
tenant = "acme"
wasm = "{datagen}"
topic = "{events}"
transforms = ["misroute"]
[source.config]
count = 50
timestamp = 1000

[[transform]]
name = "misroute"
tenant = "acme"
wasm = "{passthrough}"
[transform.config]
route_topic = "elsewhere"

# Refused by the broker: the topic takes at most 1,000-byte batches.
[[source]]
name = "refused"
tenant = "acme"
wasm = "{big}"
topic = "{small}"
topic_config = {{ "max.message.bytes" = "1000" }}
[source.config]
count = 3
value_size = 3000
"#,
            brokers = brokers(),
            big = artifacts::TEST_BIG_RECORD,
            datagen = artifacts::DATAGEN,
            passthrough = artifacts::TEST_PASSTHROUGH,
        ),
    );
    for (name, n) in [("oversize", 3), ("router", 50), ("refused", 3)] {
        assert_eq!(counter(&s, name, "failed"), n, "{name}: {s}");
        assert_eq!(counter(&s, name, "dead_lettered"), n, "{name}: {s}");
        assert_eq!(counter(&s, name, "dead_letter_failed"), 0, "{name}: {s}");
        assert_eq!(counter(&s, name, "delivered"), 0, "{name}: {s}");
    }

    let letters = consume_all(&brokers(), &dlq, Duration::from_millis(500)).unwrap();
    let mut by_plugin: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for l in &letters {
        let plugin = String::from_utf8_lossy(l.header("streamplug.plugin").expect("plugin header"))
            .into_owned();
        by_plugin.entry(plugin).or_default().push(l);
    }
    assert_eq!(
        by_plugin.keys().collect::<Vec<_>>(),
        ["oversize", "refused", "router"]
    );
    let text = |l: &streamplug_tests::Consumed, h: &str| {
        String::from_utf8_lossy(l.header(h).unwrap_or_default()).into_owned()
    };

    assert_eq!(by_plugin["oversize"].len(), 3);
    for l in &by_plugin["oversize"] {
        assert_eq!(text(l, "streamplug.topic"), events);
        assert!(text(l, "streamplug.error").contains("over max_record_bytes (1000)"));
        // The value was the problem: it is left out, its size recorded.
        assert_eq!(l.value, None);
        assert_eq!(text(l, "streamplug.value-bytes"), "5000");
    }

    assert_eq!(by_plugin["refused"].len(), 3);
    for l in &by_plugin["refused"] {
        assert_eq!(text(l, "streamplug.topic"), small);
        let cause = text(l, "streamplug.error");
        assert!(
            cause.contains("refused by Kafka") && cause.to_lowercase().contains("too large"),
            "{cause}"
        );
        assert_eq!(l.value, None);
    }

    // A misrouted record keeps everything it had: key, value, timestamp and
    // its own headers after streamplug's.
    let mut seqs: Vec<u64> = by_plugin["router"].iter().map(|l| l.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..50).collect::<Vec<_>>());
    for l in &by_plugin["router"] {
        let seq = l.seq();
        assert_eq!(text(l, "streamplug.topic"), "elsewhere");
        assert!(
            text(l, "streamplug.error")
                .contains("topic `elsewhere` is not one this pipeline may produce to")
        );
        assert_eq!(l.key.as_deref(), datagen::key(seq, 1000).as_deref());
        assert_eq!(
            l.value.as_deref(),
            Some(&datagen::bytes_value(seq, 100)[..])
        );
        assert_eq!(l.timestamp, Some(1000 + seq as i64));
        let names: Vec<&str> = l.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "streamplug.error",
                "streamplug.plugin",
                "streamplug.topic",
                "seq"
            ]
        );
    }
}
