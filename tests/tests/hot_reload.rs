//! Hot reload against the real broker: plugin files replaced under load,
//! broken versions refused, and config changes applied to running sources.

use std::path::Path;
use std::time::Duration;

use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, counter, read_summary, sigterm, spawn_run,
    unique_topic, wait_for_log, wait_with_limit,
};

fn mark_version(mark: &str) -> Vec<u8> {
    streamplug_tests::mark_version(artifacts::TEST_MARK, mark)
}

/// Ways a deploy writes a file; each must end in exactly one swap.
#[derive(Clone, Copy, Debug)]
enum Write {
    InPlace,
    Rename,
    Pieces,
}

fn deploy(path: &Path, bytes: &[u8], how: Write) {
    match how {
        Write::InPlace => std::fs::write(path, bytes).expect("write"),
        Write::Rename => {
            let tmp = path.with_extension("wasm.tmp");
            std::fs::write(&tmp, bytes).expect("write");
            std::fs::rename(&tmp, path).expect("rename");
        }
        Write::Pieces => {
            use std::io::Write as _;
            let mut f = std::fs::File::create(path).expect("create");
            for chunk in bytes.chunks(bytes.len() / 4 + 1) {
                f.write_all(chunk).expect("write");
                f.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Runs datagen → mark into `topic`, calling `during` while it runs.
fn run_with_mark(
    dir: &Scratch,
    topic: &str,
    rate: u64,
    during: impl FnOnce(&Path),
) -> (serde_json::Value, String) {
    let mark = dir.path().join("mark.wasm");
    std::fs::write(&mark, mark_version("v1")).expect("mark");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n\
         [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\ntransforms = [\"mark\"]\nbatch_size = 256\n\
         [source.config]\nrate = {rate}\ntimestamp = \"none\"\n\
         [[transform]]\nname = \"mark\"\nwasm = \"mark.wasm\"\n",
        brokers(),
        artifacts::DATAGEN
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let mut child = spawn_run(&path, &summary, dir.path());
    wait_for_log(dir.path(), "running 1 source(s)");
    during(&mark);
    sigterm(&child);
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    (read_summary(&summary), stderr)
}

/// Every record's seq is `0..n` exactly once, in offset order (one partition).
fn assert_in_order_exactly_once(records: &[Consumed]) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            r.seq(),
            i as u64,
            "record at offset {} out of sequence",
            r.offset
        );
    }
}

fn mark_of(r: &Consumed) -> String {
    let marks: Vec<_> = r.headers.iter().filter(|(n, _)| n == "mark").collect();
    assert_eq!(marks.len(), 1, "exactly one mark: {r:?}");
    String::from_utf8_lossy(marks[0].1.as_deref().unwrap_or_default()).into_owned()
}

/// Records per second while the transform is swapped; the CI machine is
/// small, and the consume-back check reads every record.
fn rate() -> u64 {
    std::env::var("STREAMPLUG_SWAP_TEST_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30_000)
}

#[test]
fn a_transform_swapped_20_times_loses_and_duplicates_nothing() {
    let dir = Scratch::new("swap20");
    let topic = unique_topic("swap20");
    let versions = [mark_version("v1"), mark_version("v2")];
    let ways = [Write::InPlace, Write::Rename, Write::Pieces];
    let (s, stderr) = run_with_mark(&dir, &topic, rate(), |mark| {
        // 20 swaps in 30 s, alternating v2, v1, v2, ...
        for i in 0..20 {
            std::thread::sleep(Duration::from_millis(1500));
            deploy(mark, &versions[(i + 1) % 2], ways[i % 3]);
        }
        std::thread::sleep(Duration::from_millis(1500));
    });
    let swaps = s["plugins"]["mark"]["swaps"].as_array().expect("swaps");
    assert_eq!(swaps.len(), 20, "20 swaps served:\n{stderr}");
    assert_eq!(s["plugins"]["mark"]["refused_swaps"], serde_json::json!([]));
    let delivered = counter(&s, "gen", "delivered");
    assert_eq!(counter(&s, "gen", "records_in"), delivered);
    assert_eq!(counter(&s, "gen", "failed"), 0);

    let records = consume_all(&brokers(), &topic, Duration::from_secs(1)).expect("consume");
    assert_eq!(records.len() as u64, delivered);
    assert_in_order_exactly_once(&records);
    let marks: Vec<String> = records.iter().map(mark_of).collect();
    assert!(marks.iter().all(|m| m == "v1" || m == "v2"));
    assert_eq!(marks[0], "v1");
    let switches = marks.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switches, 20, "the marks switch once per swap");
    let latencies: Vec<f64> = swaps
        .iter()
        .filter_map(|s| s["latency_ms"].as_f64())
        .collect();
    eprintln!("swap latencies (ms): {latencies:?}");
}

#[test]
fn broken_wrong_world_and_trapping_versions_are_refused_and_the_old_one_runs_on() {
    let dir = Scratch::new("swap-refused");
    let topic = unique_topic("swap-refused");
    let datagen = std::fs::read(artifacts::DATAGEN).expect("datagen");
    let (s, stderr) = run_with_mark(&dir, &topic, 5_000, |mark| {
        for bytes in [
            b"not a component at all".to_vec(),
            datagen,
            mark_version("TRAPINIT"),
            mark_version("TRAPCALL"),
        ] {
            std::thread::sleep(Duration::from_millis(1200));
            deploy(mark, &bytes, Write::Rename);
        }
        std::thread::sleep(Duration::from_millis(1200));
    });
    let refused = s["plugins"]["mark"]["refused_swaps"]
        .as_array()
        .expect("refused");
    let causes: Vec<&str> = refused.iter().filter_map(|r| r["cause"].as_str()).collect();
    assert_eq!(causes.len(), 4, "{causes:#?}\n{stderr}");
    assert!(causes[0].contains("it is not WebAssembly"), "{}", causes[0]);
    assert!(
        causes[1].contains("implements the source world but is configured as a [[transform]]"),
        "{}",
        causes[1]
    );
    assert!(
        causes[2].contains("failed to start") && causes[2].contains("this version traps on init"),
        "{}",
        causes[2]
    );
    assert!(
        causes[3].contains("failed on its first call")
            && causes[3].contains("this version traps on its first batch"),
        "{}",
        causes[3]
    );
    assert_eq!(s["plugins"]["mark"]["swaps"], serde_json::json!([]));
    let v1 = streamplug_tests::sha256_hex(&mark_version("v1"));
    assert_eq!(s["plugins"]["mark"]["hash"], v1.as_str(), "v1 stayed live");
    // A rollback is not a crash of the old version.
    assert_eq!(counter(&s, "mark", "restarts"), 0);

    let delivered = counter(&s, "gen", "delivered");
    assert_eq!(counter(&s, "gen", "failed"), 0);
    let records = consume_all(&brokers(), &topic, Duration::from_secs(1)).expect("consume");
    assert_eq!(records.len() as u64, delivered);
    assert_in_order_exactly_once(&records);
    assert!(records.iter().all(|r| mark_of(r) == "v1"));
}

/// Config reload under load: a source added, one removed, one's quota
/// raised, and an invalid config refused; the untouched source runs on.
#[test]
fn config_reload_adds_removes_and_requotas_without_touching_the_rest() {
    let dir = Scratch::new("config-reload");
    let t: Vec<String> = ["steady", "leaving", "throttled", "joining", "reshaped"]
        .iter()
        .map(|n| unique_topic(&format!("reload-{n}")))
        .collect();
    let source = |name: &str, topic: &str, extra: &str| {
        format!(
            "\n[[source]]\nname = \"{name}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 100\n{extra}\n\
             [source.config]\nrate = 5000\ntimestamp = \"none\"\n",
            artifacts::DATAGEN
        )
    };
    let head = format!("[kafka]\nbrokers = \"{}\"\n", brokers());
    let before = format!(
        "{head}{}{}{}{}",
        source("steady", &t[0], ""),
        source("leaving", &t[1], ""),
        source("throttled", &t[2], "quota = { records_per_second = 200 }"),
        source("reshaped", &t[4], "max_in_flight_records = 5000"),
    );
    // `reshaped` gets a new in-flight cap: its pipeline is rebuilt and
    // resumes from its checkpoint.
    let after = format!(
        "{head}{}{}{}{}",
        source("steady", &t[0], ""),
        source("throttled", &t[2], "quota = { records_per_second = 50000 }"),
        source("joining", &t[3], ""),
        source("reshaped", &t[4], "max_in_flight_records = 4000"),
    );
    let path = dir.write("config.toml", &before);
    let summary = dir.path().join("summary.json");
    let mut child = spawn_run(&path, &summary, dir.path());
    wait_for_log(dir.path(), "running 4 source(s)");
    std::thread::sleep(Duration::from_secs(2));
    // An invalid config changes nothing.
    std::fs::write(
        &path,
        before.replace("batch_size = 100", "batch_sise = 100"),
    )
    .unwrap();
    wait_for_log(dir.path(), "config reload refused");
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&path, &after).unwrap();
    wait_for_log(dir.path(), "config reloaded");
    std::thread::sleep(Duration::from_secs(3));
    sigterm(&child);
    assert!(wait_with_limit(&mut child, Duration::from_secs(60)).success());
    let s = read_summary(&summary);
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();

    let refused = s["config_reloads_refused"].to_string();
    assert!(refused.contains("batch_sise"), "{refused}");
    assert!(
        stderr.contains("config reloaded: 1 added, 1 removed, 1 restarted, 0 plugin(s) re-set, 1 quota(s) changed"),
        "{stderr}"
    );
    for (name, topic) in [
        ("steady", &t[0]),
        ("leaving", &t[1]),
        ("throttled", &t[2]),
        ("joining", &t[3]),
        ("reshaped", &t[4]),
    ] {
        let delivered = counter(&s, name, "delivered");
        assert!(delivered > 0, "{name} delivered nothing: {s}");
        assert_eq!(
            counter(&s, name, "records_in"),
            delivered,
            "{name}: drained, nothing lost"
        );
        let records = consume_all(&brokers(), topic, Duration::from_millis(500)).expect("consume");
        assert_eq!(records.len() as u64, delivered, "{name}");
        assert_in_order_exactly_once(&records);
    }
    // At 200/s the whole run (about 7 s) allows under 2,000 records; the
    // raised quota lets the 5,000/s source through for its last 3 s.
    let throttled = counter(&s, "throttled", "delivered");
    assert!(
        throttled > 6_000,
        "the new quota did not apply: {throttled}"
    );
}

/// With file watching off, `streamplug reload` applies a config change: the
/// source's new settings take over from its checkpoint, so its sequence
/// goes on without a gap or a repeat.
#[test]
fn cli_reload_swaps_a_source_which_resumes_from_its_checkpoint() {
    let dir = Scratch::new("source-swap");
    let topic = unique_topic("source-swap");
    let config = |value_size: u32| {
        format!(
            "[kafka]\nbrokers = \"{}\"\n[runtime]\nwatch = false\n\
             [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\nbatch_size = 100\n\
             [source.config]\nrate = 5000\ntimestamp = \"none\"\nvalue_size = {value_size}\n",
            brokers(),
            artifacts::DATAGEN
        )
    };
    let path = dir.write("config.toml", &config(100));
    let summary = dir.path().join("summary.json");
    let pid_file = dir.path().join("streamplug.pid");
    let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = streamplug_tests::streamplug()
        .arg("run")
        .arg(&path)
        .arg("--summary-json")
        .arg(&summary)
        .arg("--pid-file")
        .arg(&pid_file)
        .stderr(err)
        .spawn()
        .unwrap();
    wait_for_log(dir.path(), "running 1 source(s)");
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&path, config(40)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        !log.contains("config reloaded"),
        "watch = false, yet:\n{log}"
    );
    let out = streamplug_tests::streamplug()
        .arg("reload")
        .arg("--pid-file")
        .arg(&pid_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_log(dir.path(), "swapped:");
    std::thread::sleep(Duration::from_secs(2));
    sigterm(&child);
    assert!(wait_with_limit(&mut child, Duration::from_secs(60)).success());
    assert!(!pid_file.exists(), "the pid file is removed at exit");
    let s = read_summary(&summary);
    assert_eq!(
        s["plugins"]["gen"]["swaps"].as_array().map(Vec::len),
        Some(1),
        "{s}"
    );

    let records = consume_all(&brokers(), &topic, Duration::from_millis(500)).expect("consume");
    assert_eq!(records.len() as u64, counter(&s, "gen", "delivered"));
    assert_in_order_exactly_once(&records);
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| r.value.as_ref().map_or(0, Vec::len))
        .collect();
    let switch = sizes
        .iter()
        .position(|n| *n == 40)
        .expect("records after the swap");
    assert!(
        switch > 0 && sizes[..switch].iter().all(|n| *n == 100),
        "{sizes:?}"
    );
    assert!(sizes[switch..].iter().all(|n| *n == 40));
}
