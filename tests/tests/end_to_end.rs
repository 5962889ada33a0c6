//! Records made by plugins, read back from the real broker by an independent
//! consumer and compared field by field.

use std::collections::BTreeSet;
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, datagen, java_partition, read_summary,
    run_ok, run_to_end, unique_topic,
};

const TS_BASE: i64 = 1_700_000_000_000;

#[test]
fn datagen_records_arrive_exactly_as_made_and_placed_like_java() {
    let dir = Scratch::new("e2e");
    let topic = unique_topic("e2e");
    let (count, cardinality, size, partitions) = (5_000u64, 97u64, 100usize, 4u32);
    let config = dir.write(
        "c.toml",
        &format!(
            r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{topic}"
partitions = {partitions}
batch_size = 256
partitioner = "murmur"
[source.config]
count = {count}
key_cardinality = {cardinality}
value_size = {size}
timestamp = {TS_BASE}

[[partitioner]]
name = "murmur"
wasm = "{keyhash}"
"#,
            brokers = brokers(),
            datagen = artifacts::DATAGEN,
            keyhash = artifacts::KEYHASH_PARTITIONER,
        ),
    );
    let summary_path = dir.path().join("summary.json");
    let out = run_to_end(&config, &summary_path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "streamplug failed: {stderr}");

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).unwrap();
    assert_eq!(records.len() as u64, count, "consumed count");
    let mut seen = BTreeSet::new();
    for r in &records {
        let seq = r.seq();
        assert!(seen.insert(seq), "seq {seq} consumed twice");
        let key = datagen::key(seq, cardinality).unwrap();
        assert_eq!(r.key.as_deref(), Some(&key[..]), "key of seq {seq}");
        assert_eq!(
            r.value.as_deref(),
            Some(&datagen::bytes_value(seq, size)[..]),
            "value of seq {seq}"
        );
        assert_eq!(
            r.timestamp,
            Some(TS_BASE + seq as i64),
            "timestamp of seq {seq}"
        );
        assert_eq!(
            r.headers,
            vec![("seq".to_string(), Some(seq.to_string().into_bytes()))]
        );
        assert_eq!(
            r.partition,
            java_partition(&key, partitions),
            "partition of key {:?}",
            String::from_utf8_lossy(&key)
        );
    }
    assert_eq!(seen, (0..count).collect::<BTreeSet<_>>());
    // Several partitions were really used.
    assert_eq!(
        records
            .iter()
            .map(|r| r.partition)
            .collect::<BTreeSet<_>>()
            .len(),
        partitions as usize
    );

    let s = read_summary(&summary_path);
    assert_eq!(counter(&s, "gen", "produced"), count);
    assert_eq!(counter(&s, "gen", "delivered"), count);
    assert_eq!(counter(&s, "gen", "failed"), 0);
    assert_eq!(counter(&s, "gen", "restarts"), 0);
    let bytes: u64 = records
        .iter()
        .map(|r| {
            (r.key.as_ref().map_or(0, Vec::len)
                + r.value.as_ref().map_or(0, Vec::len)
                + r.headers
                    .iter()
                    .map(|(n, v)| n.len() + v.as_ref().map_or(0, Vec::len))
                    .sum::<usize>()) as u64
        })
        .sum();
    assert_eq!(counter(&s, "gen", "bytes"), bytes);
}

#[test]
fn json_filter_keeps_matching_records_and_adds_its_header() {
    let dir = Scratch::new("json");
    let topic = unique_topic("json");
    let count = 3_000u64;
    let config = dir.write(
        "c.toml",
        &format!(
            r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{topic}"
transforms = ["buys"]
[source.config]
count = {count}
format = "json"
value_size = 80
timestamp = {TS_BASE}

[[transform]]
name = "buys"
wasm = "{filter}"
[transform.config]
field = "kind"
values = "buy"
header = "kept-by"
"#,
            brokers = brokers(),
            datagen = artifacts::DATAGEN,
            filter = artifacts::JSON_FILTER,
        ),
    );
    let summary_path = dir.path().join("summary.json");
    let out = run_to_end(&config, &summary_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).unwrap();
    let expected: BTreeSet<u64> = (0..count)
        .filter(|s| datagen::json_kind(*s) == "buy")
        .collect();
    let got: BTreeSet<u64> = records.iter().map(|r| r.seq()).collect();
    assert_eq!(records.len(), expected.len());
    assert_eq!(got, expected);
    for r in &records {
        let seq = r.seq();
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(v["seq"], seq);
        assert_eq!(v["kind"], "buy");
        assert_eq!(r.value.as_ref().unwrap().len(), 80, "padded to value_size");
        // The source's header first, then the transform's, in order.
        assert_eq!(
            r.headers,
            vec![
                ("seq".into(), Some(seq.to_string().into_bytes())),
                ("kept-by".into(), Some(b"buy".to_vec()))
            ]
        );
        assert_eq!(r.timestamp, Some(TS_BASE + seq as i64));
    }
    let s = read_summary(&summary_path);
    assert_eq!(counter(&s, "gen", "records_in"), count);
    assert_eq!(counter(&s, "buys", "records_in"), count);
    assert_eq!(
        counter(&s, "buys", "dropped"),
        count - expected.len() as u64
    );
    assert_eq!(counter(&s, "gen", "delivered"), expected.len() as u64);
    assert_eq!(counter(&s, "gen", "failed"), 0);
}

#[test]
fn transform_may_route_only_to_allowed_topics() {
    let dir = Scratch::new("route");
    let own = unique_topic("route-own");
    let allowed = unique_topic("route-allowed");
    let forbidden = unique_topic("route-forbidden");
    let count = 500u64;
    let config = |route: &str, allowed: &str| {
        format!(
            r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "gen"
wasm = "{datagen}"
topic = "{own}"
transforms = ["router"]
[source.config]
count = {count}

[[transform]]
name = "router"
wasm = "{passthrough}"
topics = ["{allowed}"]
[transform.config]
route_topic = "{route}"
"#,
            brokers = brokers(),
            datagen = artifacts::DATAGEN,
            passthrough = artifacts::TEST_PASSTHROUGH,
        )
    };
    // Allowed: every record lands in the routed topic, none in the source's own.
    let summary_path = dir.path().join("allowed.json");
    let out = run_to_end(
        &dir.write("a.toml", &config(&allowed, &allowed)),
        &summary_path,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let routed = consume_all(&brokers(), &allowed, Duration::from_millis(300)).unwrap();
    assert_eq!(
        routed.iter().map(|r| r.seq()).collect::<BTreeSet<_>>(),
        (0..count).collect()
    );
    assert!(
        consume_all(&brokers(), &own, Duration::from_millis(300))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        counter(&read_summary(&summary_path), "gen", "delivered"),
        count
    );

    // Not allowed: every record is counted as failed, with the topic named.
    let summary_path = dir.path().join("forbidden.json");
    let out = run_to_end(
        &dir.write("f.toml", &config(&forbidden, &allowed)),
        &summary_path,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&summary_path);
    assert_eq!(counter(&s, "gen", "failed"), count);
    assert_eq!(counter(&s, "gen", "delivered"), 0);
    let causes = s["plugins"]["gen"]["failures"].to_string();
    assert!(
        causes.contains(&forbidden) && causes.contains("not one this pipeline may produce to"),
        "{causes}"
    );
}

#[test]
fn every_record_shape_survives_and_the_sandbox_denies_what_it_must() {
    let dir = Scratch::new("shapes");
    let topic = unique_topic("shapes");
    let (s, stderr) = run_ok(
        &dir,
        &format!(
            r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "shapes"
wasm = "{shapes}"
topic = "{topic}"
partitions = 2
[source.config]
connect_to = "{brokers}"
"#,
            brokers = brokers(),
            shapes = artifacts::TEST_SHAPES,
        ),
    );
    // Logging through the host, tagged with the plugin's name.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("shapes: init called") && l.contains("plugin=\"shapes\"")),
        "{stderr}"
    );

    let mut records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    records.sort_by_key(|r| r.seq());
    assert_eq!(records.len(), 5);
    let h = |name: &str, v: &str| (name.to_string(), Some(v.as_bytes().to_vec()));

    let report = &records[0];
    assert_eq!(
        (report.key.as_deref(), report.value.as_deref()),
        (None, Some(&b"report"[..]))
    );
    for capability in ["file", "env", "socket"] {
        let outcome = String::from_utf8_lossy(report.header(capability).unwrap()).into_owned();
        eprintln!("{capability}: {outcome}");
        assert!(outcome.starts_with("denied"), "{capability}: {outcome}");
    }
    let clock: u128 = String::from_utf8_lossy(report.header("clock").unwrap())
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        clock <= now && now - clock < 120_000,
        "the plugin reads the real clock: {clock} vs {now}"
    );

    let tombstone = &records[1];
    assert_eq!(
        (tombstone.key.as_deref(), tombstone.value.as_deref()),
        (Some(&b"gone"[..]), None)
    );

    let empty = &records[2];
    assert_eq!(
        (empty.key.as_deref(), empty.value.as_deref()),
        (Some(&b""[..]), Some(&b""[..]))
    );

    assert_eq!(
        records[3].headers,
        vec![
            h("seq", "3"),
            h("dup", "first"),
            h("empty", ""),
            h("dup", "second")
        ],
        "repeated headers keep their order"
    );

    let placed = &records[4];
    assert_eq!(
        (placed.partition, placed.timestamp),
        (1, Some(1_234_567_890_123))
    );

    assert_eq!(
        (
            counter(&s, "shapes", "delivered"),
            counter(&s, "shapes", "failed")
        ),
        (5, 0)
    );
}
