//! Plugins written in C (and the other languages with an SDK), built by the
//! project's own script, `plugins/examples.sh`, which installs their
//! toolchains on first use and rebuilds only what changed (a warm call
//! costs well under a second).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;

/// The component of example `name` (e.g. `c-redact`), built if needed.
pub fn plugin(name: &str) -> String {
    // One build at a time: tests run in parallel and share the toolchain.
    static BUILD: Mutex<()> = Mutex::new(());
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples.sh");
    let out = Command::new(&script)
        .arg(name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {name} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{} {name} printed no path", script.display()))
        .to_string();
    assert!(PathBuf::from(&path).is_file(), "{path} was not built");
    path
}

/// A `streamplug run` in the background, killed if the test ends first
/// (a panic included), so no host outlives its test.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for `needle` in `dir/stderr.log` of a [`crate::spawn_run`]
/// host. The first run of a Python or JavaScript component compiles 12-19 MB
/// of WebAssembly (5-10 s on an idle machine, far more on a busy one), so the
/// limit is generous.
pub fn wait_for_log_within(dir: &std::path::Path, needle: &str, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        if log.contains(needle) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "no `{needle}` in the log within {limit:?}:\n{}",
        std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
    );
}
