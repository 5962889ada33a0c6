//! The Schema Registry the format tests use (`tests/registry/registry.sh`,
//! started by `tests/run.sh`), one of their own for outage tests, and the
//! independent decoder (`tests/registry/decode.py`, fastavro in a cached
//! venv made by `tests/registry/pyenv.sh`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The shared test registry's Confluent-compatible base URL.
pub fn url() -> String {
    match std::env::var("STREAMPLUG_TEST_REGISTRY") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "STREAMPLUG_TEST_REGISTRY is not set: run the tests with `tests/run.sh`, or start a registry \
             with `tests/registry/registry.sh start` and export STREAMPLUG_TEST_REGISTRY=$(tests/registry/registry.sh url)"
        ),
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("registry")
        .join(name)
}

/// What the decoder made of the values, one JSON object each:
/// `{"id": .., "value": ..}` or `{"error": ..}`. With `subject`, also the id
/// of its latest version.
pub fn decode(
    registry: &str,
    subject: Option<&str>,
    values: &[&[u8]],
) -> (Option<u64>, Vec<serde_json::Value>) {
    let python = Command::new(script("pyenv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run tests/registry/pyenv.sh");
    assert!(python.status.success(), "tests/registry/pyenv.sh failed");
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
    let mut cmd = Command::new(python);
    cmd.arg(script("decode.py")).arg(registry);
    if let Some(s) = subject {
        cmd.arg(s);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot run decode.py");
    let mut input = String::new();
    for v in values {
        input.push_str(&hex::encode(v));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("decode.py");
    writer.join().expect("writer").expect("write to decode.py");
    assert!(out.status.success(), "decode.py failed");
    let mut lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("decode.py printed non-JSON"))
        .collect::<Vec<_>>();
    let latest = subject.map(|_| {
        let first = lines.remove(0);
        first["latest_id"].as_u64().expect("latest_id")
    });
    (latest, lines)
}

/// A registry of a test's own (it may be stopped and started), stopped
/// when dropped, even when the test panics.
pub struct OwnRegistry {
    dir: PathBuf,
    port: u16,
}

impl OwnRegistry {
    /// Not started yet: `start` does.
    pub fn new(dir: &Path) -> Self {
        // A port that was free a moment ago; its management port is +1.
        let port = loop {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let p = l.local_addr().expect("addr").port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        Self {
            dir: dir.join("registry"),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apis/ccompat/v7", self.port)
    }

    fn run(&self, what: &str) {
        let status = Command::new(script("registry.sh"))
            .arg(what)
            .env("STREAMPLUG_REGISTRY_DIR", &self.dir)
            .env("STREAMPLUG_REGISTRY_PORT", self.port.to_string())
            .stdout(Stdio::null())
            .status()
            .expect("cannot run tests/registry/registry.sh");
        assert!(status.success(), "registry.sh {what} failed");
    }

    pub fn start(&self) {
        self.run("start");
    }

    pub fn stop(&self) {
        self.run("stop");
    }
}

impl Drop for OwnRegistry {
    fn drop(&mut self) {
        let _ = Command::new(script("registry.sh"))
            .arg("stop")
            .env("STREAMPLUG_REGISTRY_DIR", &self.dir)
            .env("STREAMPLUG_REGISTRY_PORT", self.port.to_string())
            .stdout(Stdio::null())
            .status();
    }
}

/// GET `path` from the registry's API, as JSON (for the tests' own look at
/// what the registry has, independent of streamplug's client).
pub fn get(registry: &str, path: &str) -> serde_json::Value {
    let url = format!("{}{path}", registry.trim_end_matches('/'));
    let mut answer = ureq::get(&url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = answer
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}
