use std::io::Write;

use super::*;

/// A folder with a config file and a plugin file it can refer to.
fn setup(toml: &str) -> (tempfile_lite::Dir, PathBuf) {
    let dir = tempfile_lite::Dir::new();
    std::fs::write(dir.path().join("p.wasm"), b"\0asm").unwrap();
    let path = dir.path().join("streamplug.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(toml.as_bytes())
        .unwrap();
    (dir, path)
}

const MINIMAL: &str = r#"
[[source]]
name = "gen"
wasm = "p.wasm"
topic = "events"
"#;

#[test]
fn minimal_config_gets_throughput_defaults() {
    let (_d, path) = setup(MINIMAL);
    let c = Config::load(&path).unwrap();
    assert_eq!(c.kafka.brokers, None);
    assert_eq!((c.kafka.acks.as_str(), c.kafka.idempotence), ("all", true));
    let s = &c.sources[0];
    assert_eq!((s.partitions, s.batch_size), (1, 1024));
    assert_eq!(s.limits.memory, ByteSize(64 << 20));
    assert_eq!(
        c.resolve(s.wasm.get_ref()),
        path.parent().unwrap().join("p.wasm")
    );
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let (_d, path) = setup(&format!("{MINIMAL}batch_sise = 10\n"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("streamplug.toml"), "{err}");
    assert!(err.contains("line 6"), "{err}");
    assert!(err.contains("unknown field `batch_sise`"), "{err}");
}

#[test]
fn wrong_type_names_the_field() {
    let (_d, path) = setup(&MINIMAL.replace(
        "topic = \"events\"",
        "topic = \"events\"\npartitions = \"three\"",
    ));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 6") && err.contains("partitions"),
        "{err}"
    );
}

#[test]
fn missing_transform_and_plugin_file_are_named() {
    let (_d, path) = setup(&format!("{MINIMAL}transforms = [\"nope\"]\n"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 6: field `transforms`: no [[transform]] is named `nope`"),
        "{err}"
    );

    let (_d, path) = setup(&MINIMAL.replace("p.wasm", "missing.wasm"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 4: field `wasm`") && err.contains("missing.wasm does not exist"),
        "{err}"
    );
}

#[test]
fn duplicate_names_and_bad_topics_are_rejected() {
    let (_d, path) = setup(&format!("{MINIMAL}{MINIMAL}"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 8: field `name`: plugin name `gen` is used twice"),
        "{err}"
    );

    let (_d, path) = setup(&MINIMAL.replace("events", "bad topic"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("line 5: field `topic`"), "{err}");
}

#[test]
fn plugin_settings_become_strings_and_sizes_parse() {
    let (_d, path) = setup(&format!(
        "{MINIMAL}max_in_flight_bytes = \"2MiB\"\nlimits = {{ memory = \"16 MiB\", call_timeout_ms = 50 }}\n\
         [source.config]\ncount = 10\nrate = 2.5\nname = \"x\"\nflag = true\n"
    ));
    let c = Config::load(&path).unwrap();
    let s = &c.sources[0];
    assert_eq!(s.max_in_flight_bytes, ByteSize(2 << 20));
    assert_eq!(
        (s.limits.memory, s.limits.call_timeout_ms),
        (ByteSize(16 << 20), 50)
    );
    let settings: BTreeMap<_, _> = s.config.0.iter().cloned().collect();
    assert_eq!(settings["count"], "10");
    assert_eq!(settings["rate"], "2.5");
    assert_eq!(settings["name"], "x");
    assert_eq!(settings["flag"], "true");
    assert!("12 parsecs".parse::<ByteSize>().is_err());
}

/// A self-deleting temporary folder (no extra dependency for one use).
mod tempfile_lite {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "streamplug-config-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

const TENANTS: &str = r#"
[[tenant]]
name = "acme"
topics = ["acme.*", "shared"]
quota = { records_per_second = 1000 }

[[tenant]]
name = "globex"
topics = ["globex"]
"#;

#[test]
fn tenants_own_topics_by_name_or_prefix() {
    let (_d, path) = setup(&format!(
        "{TENANTS}\n[[source]]\nname = \"gen\"\ntenant = \"acme\"\nwasm = \"p.wasm\"\ntopic = \"acme.events\"\n"
    ));
    let c = Config::load(&path).unwrap();
    let t = c.tenant_of(&c.sources[0]).unwrap();
    assert!(t.owns("acme.events") && t.owns("shared") && !t.owns("sharedx") && !t.owns("globex"));
    assert_eq!(t.quota.records_per_second, Some(1000));
}

#[test]
fn tenant_rules_are_enforced_with_line_numbers() {
    // A topic of another tenant.
    let (_d, path) = setup(&format!(
        "{TENANTS}\n[[source]]\nname = \"gen\"\ntenant = \"acme\"\nwasm = \"p.wasm\"\ntopic = \"globex\"\n"
    ));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 15: field `topic`: tenant `acme` does not own topic `globex`"),
        "{err}"
    );

    // No tenant named although tenants exist.
    let (_d, path) = setup(&format!("{TENANTS}{MINIMAL}"));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("plugin `gen` has no `tenant`"), "{err}");

    // A transform of another tenant in the pipeline, and one routing outside.
    let pipeline = "\n[[source]]\nname = \"gen\"\ntenant = \"acme\"\nwasm = \"p.wasm\"\ntopic = \"shared\"\ntransforms = [\"t\"]\n";
    let (_d, path) = setup(&format!(
        "{TENANTS}{pipeline}\n[[transform]]\nname = \"t\"\ntenant = \"globex\"\nwasm = \"p.wasm\"\n"
    ));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("plugin `t` belongs to another tenant than source `gen`"),
        "{err}"
    );
    let (_d, path) = setup(&format!(
        "{TENANTS}{pipeline}\n[[transform]]\nname = \"t\"\ntenant = \"acme\"\nwasm = \"p.wasm\"\ntopics = [\"globex\"]\n"
    ));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("transform `t` may route to topic `globex`, which tenant `acme` does not own"),
        "{err}"
    );

    // A tenant that does not exist.
    let (_d, path) =
        setup(&MINIMAL.replace("name = \"gen\"", "name = \"gen\"\ntenant = \"nobody\""));
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("field `tenant`: no [[tenant]] is named `nobody`"),
        "{err}"
    );
}

#[test]
fn kafka_security_loads_secrets_and_names_what_is_wrong() {
    let sasl = "[kafka.security]\nprotocol = \"sasl_ssl\"\nmechanism = \"SCRAM-SHA-512\"\nusername = \"u\"\n";
    // From a file beside the config, newline dropped.
    let (d, path) = setup(&format!("{sasl}password_file = \"pw\"\n{MINIMAL}"));
    std::fs::write(d.path().join("pw"), "file-secret-77\n").unwrap();
    let c = Config::load(&path).unwrap();
    let props: Vec<(&str, &str)> = c
        .kafka
        .resolved_security
        .properties
        .iter()
        .map(|(k, v)| (*k, v.expose()))
        .collect();
    assert!(
        props.contains(&("sasl.password", "file-secret-77")),
        "{props:?}"
    );
    assert!(props.contains(&("ssl.endpoint.identification.algorithm", "https")));
    assert!(!format!("{c:?}").contains("file-secret-77"));

    let cases = [
        (
            format!("{sasl}password_env = \"STREAMPLUG_TEST_UNSET_VAR\"\n"),
            "field `password_env`: environment variable `STREAMPLUG_TEST_UNSET_VAR` is not set",
        ),
        (
            "[kafka.security]\nprotocol = \"sasl_ssl\"\n".to_string(),
            "needs `mechanism`",
        ),
        (
            "[kafka.security]\nprotocol = \"plaintext\"\nca_file = \"ca.pem\"\n".to_string(),
            "field `ca_file` needs TLS",
        ),
        (
            "[kafka.security]\nprotocol = \"ssl\"\ncert_file = \"c.pem\"\n".to_string(),
            "`cert_file` and `key_file` go together",
        ),
        (
            format!("{sasl}password = \"a-secret-1\"\npassword_env = \"X\"\n"),
            "give only one of `password`, `password_env` and `password_file`",
        ),
    ];
    for (table, want) in cases {
        let (_d, path) = setup(&format!("{table}{MINIMAL}"));
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("[kafka.security]") && err.contains(want),
            "{err}"
        );
        assert!(!err.contains("a-secret-1"), "{err}");
    }
}

/// Each line makes `Config::load` fail, and its error must say, in words,
/// what the field takes: never a Rust type such as `i16` or `u64`.
#[test]
fn wrong_numbers_are_described_in_words_not_rust_types() {
    let cases = [
        (
            "replication = \"three\"",
            "expected a whole number from 1 to 32767",
        ),
        (
            "replication = 40000",
            "expected a whole number from 1 to 32767",
        ),
        (
            "partitions = 0",
            "expected a whole number from 1 to 2147483647",
        ),
        (
            "batch_size = -1",
            "expected a whole number from 0 to 4294967295",
        ),
        (
            "max_in_flight_records = 1.5",
            "expected a whole number, 0 or more",
        ),
        (
            "limits = { call_timeout_ms = \"2s\" }",
            "expected a whole number, 0 or more",
        ),
        (
            "limits = { memory = true }",
            "expected a size: a whole number of bytes, or a string such as \"64MiB\"",
        ),
        (
            "quota = { records_per_second = \"fast\" }",
            "expected a whole number from 0 to 4294967295",
        ),
        ("max_record_bytes = \"1 XB\"", "unknown size unit `xb`"),
    ];
    for (line, expected) in cases {
        let (_d, path) =
            setup(&MINIMAL.replace("topic = \"events\"", &format!("topic = \"events\"\n{line}")));
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains(expected), "`{line}`: {err}");
        assert!(err.contains("line 6"), "`{line}` names its line: {err}");
        for rust_type in ["i16", "i32", "u32", "u64", "untagged"] {
            assert!(!err.contains(rust_type), "`{line}` says {rust_type}: {err}");
        }
    }
    let (_d, path) = setup("[kafka]\ndefault_replication = \"all\"\n");
    let err = format!("{:#}", Config::load(&path).unwrap_err());
    assert!(
        err.contains("expected a whole number from 1 to 32767"),
        "{err}"
    );
    let (_d, path) = setup("[runtime]\nmax_restarts = \"ten\"\n");
    let err = format!("{:#}", Config::load(&path).unwrap_err());
    assert!(
        err.contains("expected a whole number from 0 to 4294967295"),
        "{err}"
    );
}

#[test]
fn formats_and_the_schema_registry_read_as_documented() {
    // SAFETY: a variable only this test uses.
    unsafe { std::env::set_var("STREAMPLUG_TEST_REGISTRY_PASSWORD", "reg-secret-9") };
    let (_d, path) = setup(
        r#"
[schema_registry]
url = "http://127.0.0.1:18081/apis/ccompat/v7"
username = "svc"
password_env = "STREAMPLUG_TEST_REGISTRY_PASSWORD"

[[source]]
name = "gen"
wasm = "p.wasm"
topic = "events"
value_format = { type = "avro", schema = "order.avsc" }
key_format = { type = "json" }
subject_strategy = "topic_record_name"
"#,
    );
    let c = Config::load(&path).unwrap();
    let s = &c.sources[0];
    assert_eq!(
        s.value_format,
        Format::Avro {
            schema: "order.avsc".into(),
            input: AvroInput::Json
        }
    );
    assert_eq!(s.key_format, Format::Json { schema: None });
    assert_eq!(s.subject_strategy, SubjectStrategy::TopicRecordName);
    let r = c.resolved_registry.as_ref().unwrap();
    assert!(r.auto_register && !r.use_latest);
    assert_eq!(
        r.password.as_ref().map(|p| p.expose()),
        Some("reg-secret-9")
    );
    // Redacted wherever it could be printed.
    assert!(!format!("{c:?}").contains("reg-secret-9"));
    assert_eq!(c.sources[0].key_format, Format::Json { schema: None });
    assert_eq!(c.sources.len(), 1);
    let default = Config::parse(MINIMAL, &path).unwrap();
    assert_eq!(default.sources[0].value_format, Format::Bytes);
}

#[test]
fn a_bad_format_or_registry_table_is_named() {
    let bad_type = MINIMAL.to_string() + "value_format = { type = \"xml\" }\n";
    let (_d, path) = setup(&bad_type);
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(e.contains("unknown variant `xml`"), "{e}");
    let bad_url = format!("[schema_registry]\nurl = \"localhost:8081\"\n{MINIMAL}");
    let (_d, path) = setup(&bad_url);
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.contains(
            "[schema_registry]: field `url`: `localhost:8081` is not an http:// or https:// URL"
        ),
        "{e}"
    );
    let latest = format!("[schema_registry]\nurl = \"http://r\"\nuse_latest = true\n{MINIMAL}");
    let (_d, path) = setup(&latest);
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("`use_latest = true` needs `auto_register = false`"),
        "{e}"
    );
}

#[test]
fn protobuf_formats_name_their_file_and_message() {
    let text = MINIMAL.to_string()
        + "value_format = { type = \"protobuf\", schema = \"order.proto\", message = \"shop.Order\" }\n\
           key_format = { type = \"protobuf\", schema = \"key.proto\", message = \"shop.Key\" }\n";
    let (_d, path) = setup(&text);
    let c = Config::load(&path).unwrap();
    assert_eq!(
        c.sources[0].value_format,
        Format::Protobuf {
            schema: "order.proto".into(),
            message: "shop.Order".into()
        }
    );
    assert_eq!(
        c.sources[0].key_format,
        Format::Protobuf {
            schema: "key.proto".into(),
            message: "shop.Key".into()
        }
    );
    let no_message =
        MINIMAL.to_string() + "value_format = { type = \"protobuf\", schema = \"order.proto\" }\n";
    let (_d, path) = setup(&no_message);
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(e.contains("missing field `message`"), "{e}");
}

#[test]
fn record_size_limits_that_disagree_are_named_with_both_values() {
    let load = |extra_kafka: &str, extra_source: &str| {
        let text = format!("[kafka]\n{extra_kafka}\n{MINIMAL}{extra_source}\n");
        let (_d, path) = setup(&text);
        Config::load(&path).map_err(|e| e.to_string())
    };
    // Neither written: unchecked, as before.
    load("", "").unwrap();
    let e = load("", "max_record_bytes = \"4MiB\"").unwrap_err();
    assert!(
        e.contains("source `gen` (line 8): `max_record_bytes` = 4194304 does not fit the producer's `message.max.bytes` = 1000000 (librdkafka's default) ([kafka] properties) with 512 bytes of record overhead: raise `message.max.bytes` to at least 4194816"),
        "{e}"
    );
    let e = load("properties = { \"message.max.bytes\" = \"1048576\" }", "").unwrap_err();
    assert!(
        e.contains("`max_record_bytes` = 1048576 (the default) does not fit the producer's `message.max.bytes` = 1048576 ([kafka] properties)"),
        "{e}"
    );
    load(
        "properties = { \"message.max.bytes\" = \"5000000\" }",
        "max_record_bytes = \"4MiB\"",
    )
    .unwrap();
    let e = load(
        "properties = { \"message.max.bytes\" = \"5000000\" }",
        "max_record_bytes = \"4MiB\"\ntopic_config = { \"max.message.bytes\" = \"2000000\" }",
    )
    .unwrap_err();
    assert!(
        e.contains("`max_record_bytes` = 4194304 does not fit topic `events`'s `max.message.bytes` = 2000000 (topic_config)"),
        "{e}"
    );
    let e = load("properties = { \"message.max.bytes\" = \"lots\" }", "").unwrap_err();
    assert!(
        e.contains("`message.max.bytes` = `lots` is not a number"),
        "{e}"
    );
}
