//! Capabilities, denied by default: a plugin reads only the directories and
//! environment variables its config grants, cannot write even there, and
//! reaches no network. Every refusal is an error the plugin handles, and
//! socket attempts are logged with the plugin's name.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use streamplug_tests::{
    Scratch, artifacts, brokers, consume_all, counter, run_ok, run_ok_with_env, run_to_end,
    unique_topic,
};

/// The first broker as an IP address: a destination that really accepts
/// connections, so that a refusal can only come from the sandbox.
fn broker_addr() -> SocketAddr {
    let first = brokers().split(',').next().unwrap_or_default().to_string();
    first
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve broker {first}"))
}

#[test]
fn a_plugin_gets_what_is_granted_and_nothing_else() {
    let dir = Scratch::new("capabilities");
    let granted = dir.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("data.txt"), "tail me\nline two\n").unwrap();
    let secret = dir.write("secret.txt", "not for plugins");
    std::os::unix::fs::symlink(&secret, granted.join("link-out")).unwrap();
    let g = granted.display().to_string();
    let d = dir.path().display().to_string();
    let topic = unique_topic("capabilities");
    let broker = broker_addr();

    let (s, stderr) = run_ok_with_env(
        &dir,
        &format!(
            r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "caps"
wasm = "{wasm}"
topic = "{topic}"
capabilities = {{ read_dirs = ["{g}"], env = ["CAPS_GRANTED", "CAPS_GRANTED_UNSET"] }}
[source.config]
read = "{g}/data.txt,{d}/secret.txt,{g}/../secret.txt,{g}/link-out,/etc/passwd"
write = "{g}/new.txt,{g}/data.txt"
env = "CAPS_GRANTED,CAPS_UNGRANTED,CAPS_GRANTED_UNSET,HOME"
connect = "{broker}"
udp_send = "{broker}"
listen = "127.0.0.1:0"
lookup = "localhost"
"#,
            brokers = brokers(),
            wasm = artifacts::TEST_CAPABILITIES,
        ),
        &[
            ("CAPS_GRANTED", "granted value"),
            ("CAPS_UNGRANTED", "must not leak"),
        ],
    );

    let records = consume_all(&brokers(), &topic, Duration::from_millis(300)).unwrap();
    assert_eq!(records.len(), 1, "one report record");
    let report = &records[0];
    let outcome = |name: &str| -> String {
        let v = report
            .header(name)
            .unwrap_or_else(|| panic!("no header {name}: {report:?}"));
        String::from_utf8_lossy(v).into_owned()
    };
    for (name, _) in &report.headers {
        eprintln!("{name} => {}", outcome(name));
    }

    assert_eq!(
        outcome(&format!("read:{g}/data.txt")),
        "ok:tail me\nline two\n"
    );
    assert_eq!(outcome("env:CAPS_GRANTED"), "ok:granted value");
    let denied = [
        format!("read:{d}/secret.txt"),
        format!("read:{g}/../secret.txt"),
        format!("read:{g}/link-out"),
        "read:/etc/passwd".to_string(),
        format!("write:{g}/new.txt"),
        format!("write:{g}/data.txt"),
        "env:CAPS_UNGRANTED".to_string(),
        "env:CAPS_GRANTED_UNSET".to_string(),
        "env:HOME".to_string(),
        format!("connect:{broker}"),
        format!("udp_send:{broker}"),
        "listen:127.0.0.1:0".to_string(),
        "lookup:localhost".to_string(),
    ];
    for name in &denied {
        let o = outcome(name);
        assert!(o.starts_with("denied: "), "{name}: {o}");
    }
    // The read-only grant held on the host side too.
    assert!(!granted.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(granted.join("data.txt")).unwrap(),
        "tail me\nline two\n"
    );

    // Refusals are errors the plugin handled, not traps.
    assert_eq!(
        (
            counter(&s, "caps", "delivered"),
            counter(&s, "caps", "restarts")
        ),
        (1, 0),
        "{s}"
    );
    let logged = |needle: &str| {
        stderr
            .lines()
            .any(|l| l.contains(needle) && l.contains("plugin=\"caps\""))
    };
    for needle in [
        format!("plugin tried to connect to {broker}: denied (no network capability)"),
        format!("plugin tried to send to {broker}: denied (no network capability)"),
        "plugin tried to bind 127.0.0.1:0: denied (no network capability)".to_string(),
        "granted environment variable CAPS_GRANTED_UNSET is not set".to_string(),
    ] {
        assert!(logged(&needle), "no log line `{needle}`:\n{stderr}");
    }
}

#[test]
fn a_read_dir_that_is_not_a_directory_fails_startup() {
    let dir = Scratch::new("capabilities-bad-dir");
    let file = dir.write("a-file.txt", "x");
    let missing = dir.path().join("no-such-dir");
    let cases = [
        (missing.display().to_string(), "No such file or directory"),
        (file.display().to_string(), "is not a directory"),
        ("relative/dir".to_string(), "is not an absolute path"),
    ];
    for (path, why) in cases {
        let config = dir.write(
            "config.toml",
            &format!(
                r#"
[kafka]
brokers = "{brokers}"

[[source]]
name = "tailer"
wasm = "{wasm}"
topic = "{topic}"
capabilities = {{ read_dirs = ["{path}"] }}
"#,
                brokers = brokers(),
                wasm = artifacts::TEST_CAPABILITIES,
                topic = unique_topic("capabilities-bad-dir"),
            ),
        );
        let out = run_to_end(&config, &dir.path().join("summary.json"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}: started anyway: {stderr}");
        assert!(
            stderr.contains("plugin `tailer`")
                && stderr.contains(&format!("read_dirs: {path}"))
                && stderr.contains(why),
            "{path}: {stderr}"
        );
        eprintln!("{path}: {}", stderr.trim());
    }
}

/// With the network switched on inside WASI (so that attempts are logged),
/// each socket is a host descriptor: a plugin that hoards them is stopped
/// before it can starve the host.
#[test]
fn a_plugin_cannot_hoard_host_sockets() {
    let dir = Scratch::new("capabilities-hoard");
    let config = dir.write(
        "config.toml",
        &format!(
            r#"
[kafka]
brokers = "{brokers}"

[runtime]
max_restarts = 0

[[source]]
name = "hoarder"
wasm = "{wasm}"
topic = "{topic}"
[source.config]
hoard_sockets = 5000
"#,
            brokers = brokers(),
            wasm = artifacts::TEST_CAPABILITIES,
            topic = unique_topic("capabilities-hoard"),
        ),
    );
    let out = run_to_end(&config, &dir.path().join("summary.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("resource limit exceeded") && l.contains("plugin=\"hoarder\"")),
        "{stderr}"
    );
}

/// A plugin that retries a denied connection in a loop does not flood the
/// log: the first attempts are logged in full, the rest are counted.
#[test]
fn repeated_denials_are_logged_a_few_times_then_counted() {
    let dir = Scratch::new("denial-flood");
    let addresses: Vec<String> = (1..=200).map(|p| format!("127.0.0.1:{p}")).collect();
    let (s, stderr) = run_ok(
        &dir,
        &format!(
            "[kafka]\nbrokers = \"{}\"\n[[source]]\nname = \"knocker\"\nwasm = \"{}\"\ntopic = \"{}\"\n\
             [source.config]\nconnect = \"{}\"\n",
            brokers(),
            artifacts::TEST_CAPABILITIES,
            unique_topic("denial-flood"),
            addresses.join(",")
        ),
    );
    assert_eq!(counter(&s, "knocker", "delivered"), 1, "{s}");
    let attempts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("plugin=\"knocker\"") && l.contains("plugin tried to connect to"))
        .collect();
    assert_eq!(
        attempts.len(),
        5,
        "200 denied connects, the first 5 logged:\n{stderr}"
    );
    assert!(
        attempts[0].contains("connect to 127.0.0.1:1:"),
        "{}",
        attempts[0]
    );
    assert!(
        stderr.contains("further denied attempts are counted"),
        "{stderr}"
    );
}
