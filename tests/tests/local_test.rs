//! `streamplug test`: a plugin run locally in its sandbox, no Kafka. Each
//! record printed is compared field by field with what the plugin makes, and
//! each failure must be named as `streamplug run` names it.

use serde_json::{Value, json};
use streamplug_tests::{Scratch, artifacts, datagen, java_partition, streamplug};

/// Runs `streamplug test ARGS`: (success, stdout lines as JSON, stderr).
fn plugin_test(args: &[&str]) -> (bool, Vec<Value>, String) {
    let out = streamplug()
        .arg("test")
        .args(args)
        .output()
        .expect("run streamplug test");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.success(),
        records,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn a_source_prints_its_records_field_by_field() {
    let (ok, records, stderr) = plugin_test(&[
        artifacts::DATAGEN,
        "--config",
        "value_size=5",
        "--config",
        "key_cardinality=10",
        "--config",
        "timestamp=1000",
        "--count",
        "25",
        "--batch",
        "7",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(records.len(), 25, "--count 25");
    for (seq, r) in records.iter().enumerate() {
        let seq = seq as u64;
        let key = String::from_utf8(datagen::key(seq, 10).unwrap()).unwrap();
        let value = String::from_utf8(datagen::bytes_value(seq, 5)).unwrap();
        let expected = json!({
            "topic": null,
            "partition": null,
            "timestamp": 1000 + seq,
            "key": key,
            "value": value,
            "headers": [{"name": "seq", "value": seq.to_string()}],
        });
        assert_eq!(r, &expected, "record {seq}");
    }
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("source: 25 records out, 0 failed;")
            && summary.contains("ns/record")
            && summary.contains("peak memory"),
        "{stderr}"
    );
}

#[test]
fn a_transform_reads_json_lines_and_prints_its_output() {
    let dir = Scratch::new("local-test-transform");
    let input = dir.write(
        "in.jsonl",
        concat!(
            r#"{"key":"a","value":"{\"kind\":\"buy\",\"n\":1}","timestamp":5,"headers":[{"name":"h","value_base64":"/wA="}]}"#,
            "\n",
            r#"{"key":"b","value":"{\"kind\":\"view\"}"}"#,
            "\n\n",
            r#"{"key_base64":"/wE=","value":"{\"kind\":\"buy\"}","partition":2}"#,
            "\n",
        ),
    );
    let (ok, records, stderr) = plugin_test(&[
        artifacts::JSON_FILTER,
        "--input",
        input.to_str().unwrap(),
        "--config",
        "field=kind",
        "--config",
        "values=buy",
        "--batch",
        "2",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        records,
        [
            json!({"topic": null, "partition": null, "timestamp": 5, "key": "a",
                   "value": "{\"kind\":\"buy\",\"n\":1}",
                   "headers": [{"name": "h", "value_base64": "/wA="},
                               {"name": "json-filter", "value": "buy"}]}),
            json!({"topic": null, "partition": 2, "timestamp": null, "key_base64": "/wE=",
                   "value": "{\"kind\":\"buy\"}",
                   "headers": [{"name": "json-filter", "value": "buy"}]}),
        ]
    );
    assert!(
        stderr.contains("transform: 3 records in, 2 records out, 0 failed;"),
        "{stderr}"
    );
}

#[test]
fn a_partitioners_choices_are_printed_per_record() {
    let dir = Scratch::new("local-test-partitioner");
    let keys: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    let lines: String = keys
        .iter()
        .map(|k| format!("{{\"key\":\"{k}\",\"value\":\"v\"}}\n"))
        .collect();
    let input = dir.write("in.jsonl", &lines);
    let (ok, records, stderr) = plugin_test(&[
        artifacts::KEYHASH_PARTITIONER,
        "--input",
        input.to_str().unwrap(),
        "--partitions",
        "7",
        "--topic",
        "orders",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(records.len(), keys.len());
    for (r, k) in records.iter().zip(&keys) {
        assert_eq!(r["key"], json!(k));
        assert_eq!(r["value"], json!("v"));
        assert_eq!(
            r["partition"],
            json!(java_partition(k.as_bytes(), 7)),
            "{k}: the Java client's partition"
        );
    }
}

#[test]
fn failures_are_named_as_run_names_them() {
    let dir = Scratch::new("local-test-failures");
    let input = dir.write("in.jsonl", "{\"key\":\"k\",\"value\":\"v\"}\n");
    let input = input.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &[artifacts::TEST_INFINITE_LOOP, "--call-timeout-ms", "200"],
            "plugin `test_infinite_loop` failed: CPU time limit exceeded: a call ran longer than 200 ms and was interrupted",
        ),
        (
            &[artifacts::TEST_BAD_OUTPUT],
            "failed: invalid output from poll-records:",
        ),
        (
            &[
                artifacts::TEST_PANIC_ON_NTH,
                "--config",
                "n=3",
                "--count",
                "10",
            ],
            "failed: trapped:",
        ),
        (
            &[
                artifacts::TEST_TRAP_ON_INIT,
                "--input",
                input,
                "--config",
                "mode=err",
            ],
            "setup refused its config:",
        ),
        (
            &[artifacts::TEST_BAD_PARTITION, "--input", input],
            "partitioner chose partition 11, topic `test` has 6",
        ),
        (
            &[artifacts::JSON_FILTER, "--config", "field=kind"],
            "needs records: give --input",
        ),
    ];
    for (args, cause) in cases {
        let (ok, _, stderr) = plugin_test(args);
        assert!(!ok, "{args:?} succeeded: {stderr}");
        assert!(
            stderr.contains(cause),
            "{args:?}: expected `{cause}` in: {stderr}"
        );
    }
}

#[test]
fn a_malformed_input_line_is_named_by_its_number() {
    let dir = Scratch::new("local-test-bad-input");
    let input = dir.write("in.jsonl", "{\"key\":\"k\"}\n{\"vaule\":\"v\"}\n");
    let (ok, _, stderr) = plugin_test(&[
        artifacts::TEST_PASSTHROUGH,
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("in.jsonl line 2") && stderr.contains("unknown field `vaule`"),
        "{stderr}"
    );
}
