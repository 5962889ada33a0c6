//! A plugin that logs in a loop cannot flood the host's log: its `log`
//! import, stdout and stderr share one budget of 100 lines/s, lines are cut
//! to 4 KiB, dropped lines are counted in the summary and reported in the
//! log, and its records are still produced. With `--log-format json` every
//! line is a JSON object with the plugin, tenant and level as fields.

use std::time::Duration;

use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, counter, read_summary, run_to_end_with,
    unique_topic,
};

const LINES: u64 = 1_000_000;
const RECORDS: u64 = 2_000;
const LINES_PER_SECOND: f64 = 100.0;

#[test]
fn a_plugin_logging_a_million_lines_is_held_to_its_budget_and_its_records_flow() {
    let dir = Scratch::new("log-flood");
    let topic = unique_topic("log-flood");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n\
         [[tenant]]\nname = \"acme\"\ntopics = [\"{topic}\"]\n\
         [[source]]\nname = \"chatty\"\ntenant = \"acme\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
         batch_size = 50\n[source.config]\ncount = {RECORDS}\nlines = {LINES}\n",
        brokers(),
        artifacts::TEST_CHATTY
    );
    let path = dir.write("config.toml", &config);
    let summary_path = dir.path().join("summary.json");
    let out = run_to_end_with(&path, &summary_path, &[], &["--log-format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exited {}: {stderr}", out.status);
    let summary = read_summary(&summary_path);

    // Every log line is one JSON object (the command's own messages, such
    // as `streamplug: running ...`, are not log lines); the plugin's lines
    // carry its name, tenant and level as fields.
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.starts_with("streamplug: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let text = |l: &serde_json::Value, f: &str| l[f].as_str().unwrap_or_default().to_string();
    let from_plugin: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            let m = text(l, "message");
            m.starts_with("chatty ") || m.starts_with("long line ")
        })
        .collect();
    for l in &from_plugin {
        assert_eq!(text(l, "plugin"), "chatty", "{l}");
        assert_eq!(text(l, "tenant"), "acme", "{l}");
    }
    let stdout_lines = from_plugin
        .iter()
        .filter(|l| text(l, "message").starts_with("chatty stdout line"))
        .collect::<Vec<_>>();
    assert!(!stdout_lines.is_empty(), "no stdout line was kept");
    for l in &stdout_lines {
        assert_eq!(
            (text(l, "stream"), text(l, "level")),
            ("stdout".into(), "INFO".into()),
            "{l}"
        );
    }

    // The first line, 100,000 bytes long, is cut to 4 KiB and says so.
    let long = from_plugin
        .iter()
        .find(|l| text(l, "message").starts_with("long line "))
        .expect("the long line (the plugin's first) was not logged");
    assert_eq!(text(long, "level"), "WARN");
    let message = text(long, "message");
    assert!(
        message.len() < 4096 + 64,
        "a line of {} bytes",
        message.len()
    );
    assert!(message.ends_with("more bytes cut]"), "{message}");

    // Bounded: at most 100 plugin lines per second of the run (and one
    // window more), and every line the plugin wrote is either in the log or
    // counted as dropped.
    let elapsed = summary["elapsed_seconds"]
        .as_f64()
        .expect("elapsed_seconds");
    let kept = from_plugin.len() as u64;
    let bound = (LINES_PER_SECOND * (elapsed.ceil() + 1.0)) as u64;
    assert!(
        kept <= bound,
        "{kept} plugin lines in {elapsed:.1} s (at most {bound})"
    );
    let dropped = counter(&summary, "chatty", "log_lines_dropped");
    assert_eq!(kept + dropped, LINES, "kept {kept} + dropped {dropped}");
    assert!(
        stderr.len() < 2 << 20,
        "the host wrote {} bytes of log",
        stderr.len()
    );

    // Drops are reported in the log as they happen, never more than counted.
    let reported: u64 = lines
        .iter()
        .filter(|l| text(l, "level") == "WARN" && text(l, "plugin") == "chatty")
        .filter_map(|l| {
            let m = text(l, "message");
            let n = m
                .strip_prefix("plugin chatty: ")?
                .split_once(" log lines dropped")?
                .0;
            n.parse::<u64>().ok()
        })
        .sum();
    assert!(
        reported > 0 && reported <= dropped,
        "reported {reported} dropped lines, counted {dropped}"
    );

    // Its records are still produced, each exactly once, as made.
    assert_eq!(counter(&summary, "chatty", "delivered"), RECORDS);
    let mut records = consume_all(&brokers(), &topic, Duration::from_millis(300)).expect("consume");
    records.sort_by_key(Consumed::seq);
    assert_eq!(records.len() as u64, RECORDS, "records on {topic}");
    for (seq, r) in records.iter().enumerate() {
        assert_eq!(r.seq(), seq as u64);
        assert_eq!(r.key.as_deref(), Some(format!("key-{seq}").as_bytes()));
        assert_eq!(r.value.as_deref(), Some(&b"0123456789"[..]));
    }
}
