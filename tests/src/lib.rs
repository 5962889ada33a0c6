//! Support for the integration tests: the broker under test, running the
//! `streamplug` binary, and an independent consumer to read topics back.

pub mod artifacts;
pub mod cluster;
pub mod langs;
pub mod registry;

/// Plugins built against streamplug:plugin@0.1.0 with the SDK of commit
/// e35a480 (the last before 0.2.0), kept so that every later host is tested
/// against plugins of the old contract.
pub mod fixtures_0_1 {
    pub const DATAGEN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/plugin-0.1.0/datagen.wasm"
    );
    pub const PASSTHROUGH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/plugin-0.1.0/test_passthrough.wasm"
    );
    pub const KEYHASH_PARTITIONER: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/plugin-0.1.0/keyhash_partitioner.wasm"
    );
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

/// The real broker the tests run against, started by `tests/run.sh`
/// (`tests/kafka/broker.sh start`), which exports its address.
pub fn brokers() -> String {
    match std::env::var("STREAMPLUG_TEST_BROKERS") {
        Ok(b) if !b.is_empty() => b,
        _ => panic!(
            "STREAMPLUG_TEST_BROKERS is not set: run the tests with `tests/run.sh`, or start a broker \
             with `tests/kafka/broker.sh start` and export STREAMPLUG_TEST_BROKERS=$(tests/kafka/broker.sh bootstrap)"
        ),
    }
}

/// A topic name no other test (or earlier run) uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A scratch folder for one test, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(unique_topic(&format!("streamplug-test-{name}")));
        std::fs::create_dir_all(&p).expect("cannot create a scratch folder");
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("cannot write a scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `streamplug` binary of this build (`cargo build --release -p streamplug`).
pub fn streamplug_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("no current exe");
    // Tests run from target/<profile>/deps/, tools from target/<profile>/.
    let dir = exe.parent().expect("unexpected executable path");
    [dir.join("streamplug"), dir.parent().map(|d| d.join("streamplug")).unwrap_or_default()]
        .into_iter()
        .find(|b| b.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no streamplug binary beside {}: build it first with `cargo build --release -p streamplug` (tests/run.sh does)",
                exe.display()
            )
        })
}

pub fn streamplug() -> Command {
    let mut c = Command::new(streamplug_bin());
    c.env("STREAMPLUG_LOG", "info")
        .env("XDG_CACHE_HOME", cache_dir());
    c
}

/// One compile cache for all tests, so each plugin compiles once per run.
fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("streamplug-test-cache")
}

/// Runs `streamplug run CONFIG --summary-json ...` to the end.
pub fn run_to_end(config: &Path, summary: &Path) -> Output {
    run_to_end_with_env(config, summary, &[])
}

/// [`run_to_end`] with extra environment variables for streamplug.
pub fn run_to_end_with_env(config: &Path, summary: &Path, env: &[(&str, &str)]) -> Output {
    run_to_end_with(config, summary, env, &[])
}

/// [`run_to_end`] with extra environment variables and arguments.
pub fn run_to_end_with(
    config: &Path,
    summary: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let child = streamplug()
        .envs(env.iter().copied())
        .arg("run")
        .arg(config)
        .arg("--summary-json")
        .arg(summary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run streamplug");
    // A run that should end by itself must not hang the suite.
    let pid = child.id();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match wait.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.expect("cannot wait for streamplug"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("streamplug did not finish within {RUN_LIMIT:?}");
        }
    }
}

/// The longest a run that should end by itself may take in a test.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// Starts `streamplug run` in the background (stdout/stderr to files in `dir`).
pub fn spawn_run(config: &Path, summary: &Path, dir: &Path) -> Child {
    let out = std::fs::File::create(dir.join("stdout.log")).expect("stdout log");
    let err = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
    streamplug()
        .arg("run")
        .arg(config)
        .arg("--summary-json")
        .arg(summary)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("cannot start streamplug")
}

/// Writes `config` into `dir`, runs it to the end, and checks that streamplug
/// exited 0. Returns the JSON summary and stderr.
pub fn run_ok(dir: &Scratch, config: &str) -> (serde_json::Value, String) {
    run_ok_with_env(dir, config, &[])
}

/// [`run_ok`] with extra environment variables for streamplug.
pub fn run_ok_with_env(
    dir: &Scratch,
    config: &str,
    env: &[(&str, &str)],
) -> (serde_json::Value, String) {
    let path = dir.write("config.toml", config);
    let summary = dir.path().join("summary.json");
    let out = run_to_end_with_env(&path, &summary, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "streamplug exited with {}: {stderr}",
        out.status
    );
    (read_summary(&summary), stderr)
}

pub fn read_summary(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no summary at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("summary is not JSON")
}

/// A counter from the summary, e.g. `counter(&s, "datagen", "delivered")`.
pub fn counter(summary: &serde_json::Value, plugin: &str, name: &str) -> u64 {
    summary["plugins"][plugin][name]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no counter {plugin}.{name}: {summary}"))
}

/// One record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Consumed {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The `seq` header that datagen-like plugins stamp on every record.
    pub fn seq(&self) -> u64 {
        let raw = self
            .header("seq")
            .unwrap_or_else(|| panic!("record without a seq header: {self:?}"));
        std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad seq header {raw:?}"))
    }
}

/// Reads a whole topic from the beginning with a plain consumer (no group),
/// until every partition's end is reached and nothing new came for `quiet`.
/// Records of aborted transactions are not read (`read_committed`).
pub fn consume_all(brokers: &str, topic: &str, quiet: Duration) -> Result<Vec<Consumed>> {
    consume(brokers, topic, quiet, "read_committed")
}

/// As [`consume_all`], with records of aborted or open transactions too.
pub fn consume_all_uncommitted(
    brokers: &str,
    topic: &str,
    quiet: Duration,
) -> Result<Vec<Consumed>> {
    consume(brokers, topic, quiet, "read_uncommitted")
}

fn consume(brokers: &str, topic: &str, quiet: Duration, isolation: &str) -> Result<Vec<Consumed>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "streamplug-tests-unused")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .context("cannot create the test consumer")?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .context("metadata")?;
    let partitions = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        bail!("topic `{topic}` does not exist or has no partitions");
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::new();
    let mut at_end: HashMap<i32, bool> = HashMap::new();
    let mut last_progress = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                at_end.insert(m.partition(), false);
                out.push(Consumed {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    timestamp: m.timestamp().to_millis(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p, true);
            }
            Some(Err(e)) => bail!("consumer error: {e}"),
            None => {}
        }
        let all_at_end = at_end.len() == partitions && at_end.values().all(|&e| e);
        if all_at_end && last_progress.elapsed() >= quiet {
            return Ok(out);
        }
        if last_progress.elapsed() > Duration::from_secs(60) {
            bail!(
                "no progress reading `{topic}` for 60 s ({} records read)",
                out.len()
            );
        }
    }
}

/// Kafka's Java `Utils.murmur2`, written independently of the partitioner
/// plugin so that the tests can check its placement.
pub fn java_murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Where the Java client's default partitioner puts a keyed record.
pub fn java_partition(key: &[u8], partitions: u32) -> i32 {
    ((java_murmur2(key) & 0x7fff_ffff) as u32 % partitions) as i32
}

/// Writes a bench's results file (pretty JSON, its folder made if missing)
/// and says where it went.
pub fn write_report(out: &Path, report: &serde_json::Value) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("written to {}", out.display());
    Ok(())
}

/// The records `plugins/datagen` makes for sequence number `seq` (see its
/// README): the formulas, restated here so the tests can check every byte.
pub mod datagen {
    pub fn key(seq: u64, cardinality: u64) -> Option<Vec<u8>> {
        (cardinality > 0).then(|| format!("key-{}", seq % cardinality).into_bytes())
    }

    pub fn bytes_value(seq: u64, size: usize) -> Vec<u8> {
        (0..size)
            .map(|i| b'a' + ((seq + i as u64) % 26) as u8)
            .collect()
    }

    pub fn json_kind(seq: u64) -> &'static str {
        ["click", "view", "buy"][(seq % 3) as usize]
    }

    /// `format = "random"`: `size` bytes of the splitmix64 stream seeded
    /// with `seq`, little-endian words, the last one cut short.
    pub fn random_value(seq: u64, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size + 8);
        random_value_into(seq, size, &mut out);
        out
    }

    /// [`random_value`] into `out` (cleared first), so that a loop making
    /// large values reuses one buffer as datagen does.
    pub fn random_value_into(seq: u64, size: usize, out: &mut Vec<u8>) {
        out.clear();
        let mut state = seq;
        while out.len() < size {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(size);
    }
}

/// The mark in the `mark` test plugins as built.
pub const MARK_V1: &[u8] = b"STREAMPLUG-MARK:v1______________";

/// A `mark` test plugin (`plugin` is its file) with its mark rewritten. The
/// new mark has the same length, so the component stays valid: only the
/// string in its data changes, and with it the file's hash.
pub fn mark_version(plugin: &str, mark: &str) -> Vec<u8> {
    let original = std::fs::read(plugin).expect("mark plugin");
    let mut new_mark = format!("STREAMPLUG-MARK:{mark}").into_bytes();
    new_mark.resize(MARK_V1.len(), b'_');
    let at: Vec<usize> = original
        .windows(MARK_V1.len())
        .enumerate()
        .filter(|(_, w)| *w == MARK_V1)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the mark must be in the plugin exactly once");
    let mut bytes = original;
    bytes[at[0]..at[0] + MARK_V1.len()].copy_from_slice(&new_mark);
    bytes
}

/// sha256 of `bytes` in hex, as the summary names plugin versions.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Sends SIGTERM to a child, as an operator stopping the service would.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -TERM failed");
}

/// Sends SIGINT to a child, as Ctrl-C in a terminal would.
pub fn sigint(child: &Child) {
    let status = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -INT failed");
}

/// Waits until the `stderr.log` that [`spawn_run`] writes in `dir` contains
/// `needle` (at most 60 s).
pub fn wait_for_log(dir: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        if log.contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no `{needle}` in the log:\n{}",
        std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
    );
}

/// Waits for a child to exit, killing it (and failing) after `limit`.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("streamplug did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `[kafka]` table and a `datagen` source: the healthy neighbour that
/// fault tests run beside a broken plugin.
pub fn healthy_datagen(name: &str, topic: &str, count: u64) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "{name}"
wasm = "{wasm}"
topic = "{topic}"
[source.config]
count = {count}
"#,
        brokers = brokers(),
        wasm = artifacts::DATAGEN,
    )
}

/// Asserts that every sequence number `0..count` is in `topic` exactly once.
pub fn assert_complete(topic: &str, count: u64) {
    let records = consume_all(&brokers(), topic, Duration::from_millis(300)).expect("consume");
    let mut seqs: Vec<u64> = records.iter().map(Consumed::seq).collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (0..count).collect();
    assert!(
        seqs == expected,
        "topic {topic}: {} records, expected 0..{count} exactly once",
        seqs.len()
    );
}

/// Runs `config` and kills the host with SIGKILL `rounds` times, each time
/// at a pseudo-random point (from `seed`) 0.3 to 1.8 s after its sources are
/// running, so that every kill lands while records are being made. From the
/// second round on, the host must have resumed from a committed checkpoint.
pub fn kill_9_at_random_points(config: &Path, summary: &Path, dir: &Path, seed: u64, rounds: u32) {
    let mut x = seed;
    for round in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = spawn_run(config, summary, dir);
        // Start-up varies: an exactly-once producer waits for the
        // coordinator to abort what the last kill left open (seconds, if
        // the kill hit a commit). Count from when the sources run.
        let log = dir.join("stderr.log");
        let started = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("streamplug: running")
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: not running after 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300 + x % 1500));
        child.kill().expect("kill -9");
        assert!(!child.wait().expect("wait").success(), "round {round}");
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        if round > 0 {
            assert!(
                log.contains("resuming from its last committed checkpoint"),
                "round {round} did not resume:\n{log}"
            );
        }
    }
}

/// The machine's load average as `/proc/loadavg` gives it, for benchmark
/// results (these machines are shared, so readers need to judge the noise).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_vectors() {
        // From Kafka's UtilsTest.
        assert_eq!(java_murmur2(b"21"), -973932308);
        assert_eq!(java_murmur2(b"foobar"), -790332482);
        assert_eq!(java_murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(java_murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            java_murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(java_murmur2(b"abc"), 479470107);
    }
}
