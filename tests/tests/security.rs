//! Production-cluster connections against the test broker's secured
//! listeners (`STREAMPLUG_KAFKA_SECURITY=1 tests/kafka/broker.sh start`):
//! TLS, SASL_SSL with SCRAM and PLAIN, mTLS, broker ACLs, zstd, and secrets
//! that appear nowhere. Records are read back over the plaintext listener
//! by an independent consumer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, counter, datagen, run_ok_with_env,
    run_to_end_with_env, unique_topic,
};

/// What the broker's security set-up is: listener addresses, users, files.
struct Secured {
    dir: PathBuf,
    info: HashMap<String, String>,
}

impl Secured {
    fn get() -> Self {
        let dir = match std::env::var("STREAMPLUG_TEST_SECURITY") {
            Ok(d) if !d.is_empty() => PathBuf::from(d),
            _ => panic!(
                "STREAMPLUG_TEST_SECURITY is not set: run the tests with `tests/run.sh`, or start the broker \
                 with STREAMPLUG_KAFKA_SECURITY=1 and export STREAMPLUG_TEST_SECURITY=$(tests/kafka/broker.sh security-dir)"
            ),
        };
        let text = std::fs::read_to_string(dir.join("info")).expect("security info");
        let info = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { dir, info }
    }

    fn at(&self, key: &str) -> &str {
        &self.info[key]
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

/// A datagen source of `count` records with fixed timestamps, as a TOML table.
fn source(name: &str, topic: &str, count: u64, extra: &str) -> String {
    format!(
        r#"
[[source]]
name = "{name}"
wasm = "{wasm}"
topic = "{topic}"
{extra}
[source.config]
count = {count}
timestamp = 1000
"#,
        wasm = artifacts::DATAGEN
    )
}

/// Every record `0..count` of `topic`, once, with datagen's key, value,
/// timestamp and headers.
fn assert_records(topic: &str, count: u64) {
    let records = consume_all(&brokers(), topic, Duration::from_millis(300)).expect("consume");
    assert_datagen_records(topic, &records, count);
}

fn assert_datagen_records(topic: &str, records: &[Consumed], count: u64) {
    let mut seqs: Vec<u64> = records.iter().map(Consumed::seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count).collect::<Vec<_>>(), "topic {topic}");
    for r in records {
        let seq = r.seq();
        assert_eq!(
            r.key.as_deref(),
            datagen::key(seq, 1000).as_deref(),
            "{topic} #{seq}"
        );
        assert_eq!(
            r.value.as_deref(),
            Some(&datagen::bytes_value(seq, 100)[..])
        );
        assert_eq!(r.timestamp, Some(1000 + seq as i64));
        assert_eq!(
            r.headers,
            [("seq".to_string(), Some(seq.to_string().into_bytes()))]
        );
    }
}

fn sasl_ssl(sec: &Secured) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
[kafka.security]
protocol = "sasl_ssl"
mechanism = "SCRAM-SHA-512"
username = "{user}"
password_env = "TEST_KAFKA_PASSWORD"
ca_file = "{ca}"
"#,
        brokers = sec.at("sasl_ssl"),
        user = sec.at("user"),
        ca = sec.file("ca.pem"),
    )
}

fn mtls(sec: &Secured, cert: &str) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
[kafka.security]
protocol = "ssl"
ca_file = "{ca}"
cert_file = "{cert}"
key_file = "{key}"
"#,
        brokers = sec.at("mtls"),
        ca = sec.file("ca.pem"),
        cert = sec.file(&format!("{cert}.pem")),
        key = sec.file(&format!("{cert}.key")),
    )
}

/// The codecs of the record batches in `topic`'s first log segment, as the
/// broker stored them.
fn stored_codecs(sec: &Secured, topic: &str) -> String {
    let segment = sec
        .dir
        .join("../data")
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/kafka/broker.sh"))
        .args(["exec", "org.apache.kafka.tools.DumpLogSegments", "--files"])
        .arg(&segment)
        .output()
        .expect("DumpLogSegments");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("compresscodec: ").nth(1))
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn records_arrive_over_tls_compressed_with_zstd() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-ssl");
    let topic = unique_topic("sec.ssl");
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"
compression = "zstd"
[kafka.security]
protocol = "ssl"
ca_file = "{ca}"
"#,
        brokers = sec.at("ssl"),
        ca = sec.file("ca.pem"),
    ) + &source("gen", &topic, 500, "");
    let (s, _) = run_ok_with_env(&dir, &config, &[]);
    assert_eq!(counter(&s, "gen", "delivered"), 500, "{s}");
    assert_records(&topic, 500);
    let codecs = stored_codecs(&sec, &topic);
    assert!(
        !codecs.is_empty() && codecs.split(',').all(|c| c == "zstd"),
        "stored batches: {codecs}"
    );
}

#[test]
fn records_arrive_over_sasl_ssl_scram_with_exactly_once_and_kafka_checkpoints() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-scram");
    let (plain, eos) = (unique_topic("sec.scram"), unique_topic("sec.scram-eos"));
    let checkpoints = unique_topic("streamplug-checkpoints-sec");
    let config = sasl_ssl(&sec)
        + &format!("[checkpoints]\nstore = \"kafka\"\ntopic = \"{checkpoints}\"\n")
        + &source("gen", &plain, 400, "")
        + &source("eos", &eos, 400, "delivery = \"exactly_once\"");
    let (s, _) = run_ok_with_env(
        &dir,
        &config,
        &[("TEST_KAFKA_PASSWORD", sec.at("password"))],
    );
    assert_eq!(counter(&s, "gen", "delivered"), 400, "{s}");
    assert_eq!(counter(&s, "eos", "delivered"), 400, "{s}");
    assert_records(&plain, 400);
    assert_records(&eos, 400);
    // Both sources' positions were committed to the checkpoint topic, over
    // the same authenticated connection.
    let stored = consume_all(&brokers(), &checkpoints, Duration::from_millis(300)).unwrap();
    let mut keys: Vec<String> = stored
        .iter()
        .filter_map(|r| r.key.as_deref())
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys, ["eos", "gen"], "checkpoint keys");
}

#[test]
fn records_arrive_over_sasl_ssl_plain_with_the_password_in_a_file() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-plain");
    let topic = unique_topic("sec.plain");
    let password_file = dir.write("password", &format!("{}\n", sec.at("plain_password")));
    let config = sasl_ssl(&sec).replace("SCRAM-SHA-512", "PLAIN").replace(
        "password_env = \"TEST_KAFKA_PASSWORD\"",
        &format!("password_file = \"{}\"", password_file.display()),
    ) + &source("gen", &topic, 200, "");
    let (s, _) = run_ok_with_env(&dir, &config, &[]);
    assert_eq!(counter(&s, "gen", "delivered"), 200, "{s}");
    assert_records(&topic, 200);
}

#[test]
fn records_arrive_over_mtls() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-mtls");
    let topic = unique_topic("sec.mtls");
    let config = mtls(&sec, "client") + &source("gen", &topic, 300, "");
    let (s, _) = run_ok_with_env(&dir, &config, &[]);
    assert_eq!(counter(&s, "gen", "delivered"), 300, "{s}");
    assert_records(&topic, 300);
}

/// Runs a config that cannot connect: it must fail fast, with one error line
/// naming the cause and the broker address.
fn assert_refused(label: &str, config: &str, env: &[(&str, &str)], address: &str, cause: &str) {
    let dir = Scratch::new("sec-refused");
    let path = dir.write("config.toml", config);
    let started = Instant::now();
    let out = run_to_end_with_env(&path, &dir.path().join("summary.json"), env);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{label}: exited 0: {stderr}");
    // Well inside the connect timeout (60 s below): the cause was known.
    assert!(
        took < Duration::from_secs(20),
        "{label}: took {took:?}: {stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{label}: {stderr}");
    assert!(
        errors[0].contains(address) && errors[0].contains(cause),
        "{label}: expected `{cause}` and `{address}` in: {}",
        errors[0]
    );
    for (_, secret) in env {
        assert!(!stderr.contains(secret), "{label}: a secret in: {stderr}");
    }
}

#[test]
fn bad_credentials_and_certificates_fail_fast_naming_cause_and_address() {
    let sec = Secured::get();
    let topic = unique_topic("sec.refused");
    let datagen_source = source("gen", &topic, 10, "");
    let patient = "connect_timeout_ms = 60000\n";
    let with_timeout =
        |c: String| c.replacen("[kafka.security]", &format!("{patient}[kafka.security]"), 1);
    let scram = with_timeout(sasl_ssl(&sec)) + &datagen_source;
    let sasl_addr = sec.at("sasl_ssl").to_string();
    assert_refused(
        "wrong password",
        &scram,
        &[("TEST_KAFKA_PASSWORD", "not-the-password-91c2")],
        &sasl_addr,
        "authentication failed",
    );
    assert_refused(
        "unknown user",
        &scram.replace(
            &format!("username = \"{}\"", sec.at("user")),
            "username = \"nobody-here\"",
        ),
        &[("TEST_KAFKA_PASSWORD", sec.at("password"))],
        &sasl_addr,
        "authentication failed",
    );
    assert_refused(
        "untrusted CA",
        &scram.replace(&sec.file("ca.pem"), &sec.file("other-ca.pem")),
        &[("TEST_KAFKA_PASSWORD", sec.at("password"))],
        &sasl_addr,
        "certificate not trusted",
    );
    // The broker's certificate is for 127.0.0.1 only.
    let localhost = sasl_addr.replace("127.0.0.1", "localhost");
    assert_refused(
        "wrong hostname",
        &scram.replace(&sasl_addr, &localhost).replacen(
            "[kafka.security]",
            "properties = { \"broker.address.family\" = \"v4\" }\n[kafka.security]",
            1,
        ),
        &[("TEST_KAFKA_PASSWORD", sec.at("password"))],
        &localhost,
        "hostname mismatch",
    );
    let mtls_addr = sec.at("mtls").to_string();
    assert_refused(
        "expired client certificate",
        &(with_timeout(mtls(&sec, "expired")) + &datagen_source),
        &[],
        &mtls_addr,
        "client certificate expired",
    );
    assert_refused(
        "client certificate of another CA",
        &(with_timeout(mtls(&sec, "stranger")) + &datagen_source),
        &[],
        &mtls_addr,
        "refused",
    );
}

#[test]
fn a_topic_the_acls_deny_is_dead_lettered_and_the_others_lose_nothing() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-acl");
    let (allowed, dlq) = (unique_topic("sec.allowed"), unique_topic("sec.dlq"));
    let denied = sec.at("denied_topic");
    let config = sasl_ssl(&sec)
        + &format!(
            "[[tenant]]\nname = \"acme\"\ntopics = [\"sec.*\"]\ndead_letter_topic = \"{dlq}\"\n"
        )
        + &source("denied", denied, 20, "tenant = \"acme\"")
        + &source("allowed", &allowed, 300, "tenant = \"acme\"");
    let (s, _) = run_ok_with_env(
        &dir,
        &config,
        &[("TEST_KAFKA_PASSWORD", sec.at("password"))],
    );
    assert_eq!(counter(&s, "denied", "failed"), 20, "{s}");
    assert_eq!(counter(&s, "denied", "dead_lettered"), 20, "{s}");
    assert_eq!(counter(&s, "denied", "delivered"), 0, "{s}");
    let causes = s["plugins"]["denied"]["failures"].to_string();
    assert!(causes.contains("TOPIC_AUTHORIZATION_FAILED"), "{causes}");
    assert_eq!(counter(&s, "allowed", "delivered"), 300, "{s}");
    assert_eq!(counter(&s, "allowed", "failed"), 0, "{s}");
    assert_records(&allowed, 300);

    let letters = consume_all(&brokers(), &dlq, Duration::from_millis(300)).unwrap();
    let mut seqs: Vec<u64> = letters.iter().map(Consumed::seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    for l in &letters {
        let header = |h| String::from_utf8_lossy(l.header(h).unwrap_or_default()).into_owned();
        assert_eq!(header("streamplug.topic"), denied);
        assert_eq!(header("streamplug.plugin"), "denied");
        assert!(header("streamplug.error").contains("TOPIC_AUTHORIZATION_FAILED"));
        assert_eq!(l.key.as_deref(), datagen::key(l.seq(), 1000).as_deref());
        assert_eq!(
            l.value.as_deref(),
            Some(&datagen::bytes_value(l.seq(), 100)[..])
        );
    }
}

#[test]
fn no_secret_appears_in_the_debug_log_the_summary_or_config_errors() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-secrets");
    let topic = unique_topic("sec.secrets");
    let password = sec.at("password");
    // librdkafka's own debug log too, configuration dump included.
    let config = sasl_ssl(&sec).replacen(
        "[kafka.security]",
        "properties = { debug = \"security,broker,conf,protocol\" }\n[kafka.security]",
        1,
    ) + &source("gen", &topic, 50, "");
    let (s, stderr) = run_ok_with_env(
        &dir,
        &config,
        &[
            ("TEST_KAFKA_PASSWORD", password),
            ("STREAMPLUG_LOG", "debug"),
        ],
    );
    assert_eq!(counter(&s, "gen", "delivered"), 50, "{s}");
    // The log is the debug log, with librdkafka's SASL exchange in it.
    assert!(stderr.contains("SCRAM-SHA-512"), "{stderr}");
    let summary = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    assert_eq!(stderr.matches(password).count(), 0, "password in the log");
    assert_eq!(
        summary.matches(password).count(),
        0,
        "password in the summary"
    );

    // An inline password, warned about, and the same kept out of the log.
    let inline = "inline-secret-5d1e";
    let config = sasl_ssl(&sec).replace(
        "password_env = \"TEST_KAFKA_PASSWORD\"",
        &format!("password = \"{inline}\""),
    ) + &source("gen", &topic, 1, "");
    let path = dir.write("inline.toml", &config);
    let out = run_to_end_with_env(
        &path,
        &dir.path().join("inline.json"),
        &[("STREAMPLUG_LOG", "debug")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("password is written in the config file"),
        "{stderr}"
    );
    assert_eq!(stderr.matches(inline).count(), 0, "{stderr}");

    // A config that does not parse quotes its bad line: not the secret on it.
    let broken = config.replace(&format!("\"{inline}\""), &format!("\"{inline}\" oops"));
    let path = dir.write("broken.toml", &broken);
    let out = run_to_end_with_env(&path, &dir.path().join("broken.json"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("broken.toml"),
        "{stderr}"
    );
    assert_eq!(stderr.matches(inline).count(), 0, "{stderr}");
}

#[test]
fn version_names_the_parts_and_librdkafkas_tls_sasl_and_zstd() {
    let out = streamplug_tests::streamplug()
        .arg("version")
        .output()
        .expect("streamplug version");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` line in: {text}"))
            .to_string()
    };
    assert!(
        line("streamplug ").contains(env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    assert!(
        line("plugin contract").contains("streamplug:plugin@0.2.0"),
        "{text}"
    );
    assert!(line("wasmtime").contains("48."), "{text}");
    assert!(line("librdkafka  ").contains("2."), "{text}");
    let features = line("librdkafka features");
    for f in [
        "ssl",
        "sasl_plain",
        "sasl_scram",
        "sasl_oauthbearer",
        "zstd",
    ] {
        assert!(
            features.split([' ', ',']).any(|x| x == f),
            "`{f}` missing: {features}"
        );
    }
}

/// An unsecured JWT (`alg: none`) for `sub`, which the test broker accepts.
fn unsecured_jwt(sub: &str) -> String {
    let b64 = |s: &str| {
        const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&format!(
            r#"{{"sub":"{sub}","iat":{now},"exp":{},"scope":""}}"#,
            now + 3600
        ))
    )
}

#[test]
fn records_arrive_over_sasl_ssl_oauthbearer_with_a_token_file() {
    let sec = Secured::get();
    let dir = Scratch::new("sec-oauth");
    let topic = unique_topic("sec.oauth");
    let token = unsecured_jwt(sec.at("user"));
    let token_file = dir.write("token", &token);
    let checkpoints = unique_topic("streamplug-checkpoints-oauth");
    let config = format!(
        r#"
[kafka]
brokers = "{brokers}"
[kafka.security]
protocol = "sasl_ssl"
mechanism = "OAUTHBEARER"
token_file = "{token_file}"
ca_file = "{ca}"
[checkpoints]
store = "kafka"
topic = "{checkpoints}"
"#,
        brokers = sec.at("sasl_ssl"),
        token_file = token_file.display(),
        ca = sec.file("ca.pem"),
    ) + &source("gen", &topic, 200, "");
    let (s, stderr) = run_ok_with_env(&dir, &config, &[("STREAMPLUG_LOG", "debug")]);
    assert_eq!(counter(&s, "gen", "delivered"), 200, "{s}");
    assert_records(&topic, 200);
    assert_eq!(stderr.matches(&token).count(), 0, "the token in the log");
}
