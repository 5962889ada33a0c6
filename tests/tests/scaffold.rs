//! `streamplug new` for every kind and language: the project it writes
//! builds with `./build.sh`, passes `streamplug check` and `streamplug
//! test` without edits (its records checked field by field), and its own
//! unit tests pass.
//!
//! The projects are built offline against this checkout's SDK, into one
//! target folder under `target/` shared by all of them, so the SDK and its
//! dependencies are built once per CI run, not once per project.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use streamplug_tests::{Scratch, streamplug};

/// The variables of the outer `cargo test` that must not reach the nested builds.
const CLEARED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Runs a command to success: its stdout.
fn run_ok(cmd: &mut Command) -> String {
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target/scaffold-plugins"),
        )
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed:\n{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `streamplug new KIND NAME`, `./build.sh`, `streamplug check`: the project
/// folder and the built `.wasm`.
fn new_and_build(dir: &Scratch, kind: &str) -> (PathBuf, PathBuf) {
    let project = dir.path().join(format!("my-{kind}"));
    let sdk = workspace().join("plugins/sdk");
    run_ok(
        streamplug()
            .args(["new", kind])
            .arg(&project)
            .arg("--sdk")
            .arg(&sdk),
    );
    let built = run_ok(Command::new(project.join("build.sh")).arg("--offline"));
    let wasm = PathBuf::from(built.lines().last().expect("build.sh printed nothing"));
    assert!(wasm.is_file(), "{} is not a file", wasm.display());
    assert_eq!(
        wasm.file_name().and_then(|n| n.to_str()),
        Some(format!("my_{kind}.wasm").as_str())
    );
    let check = run_ok(streamplug().arg("check").arg(&wasm));
    assert!(
        check.contains(&format!("a valid streamplug {kind} plugin")),
        "{check}"
    );
    run_ok(
        Command::new("cargo")
            .args(["test", "--offline", "--quiet"])
            .current_dir(&project),
    );
    (project, wasm)
}

/// `streamplug test WASM ARGS` in the project folder: the records printed.
fn records(project: &Path, wasm: &Path, args: &[&str]) -> Vec<Value> {
    run_ok(
        streamplug()
            .arg("test")
            .arg(wasm)
            .args(args)
            .current_dir(project),
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
    .collect()
}

#[test]
fn a_new_source_builds_checks_and_makes_its_records() {
    let dir = Scratch::new("scaffold-source");
    let (project, wasm) = new_and_build(&dir, "source");
    let got = records(&project, &wasm, &["--count", "5"]);
    let expected: Vec<Value> = (0..5)
        .map(|seq| {
            json!({
                "topic": null, "partition": null, "timestamp": null,
                "key": format!("key-{}", seq % 4),
                "value": format!("{{\"seq\":{seq},\"kind\":\"event\"}}"),
                "headers": [{"name": "seq", "value": seq.to_string()}],
            })
        })
        .collect();
    assert_eq!(got, expected);
    // Its config reaches it: the default count is 10, and `kind` is used.
    let got = records(&project, &wasm, &["--count", "100", "--config", "kind=x"]);
    assert_eq!(got.len(), 10);
    assert_eq!(got[9]["value"], json!("{\"seq\":9,\"kind\":\"x\"}"));
}

#[test]
fn a_new_transform_builds_checks_and_transforms_its_sample() {
    let dir = Scratch::new("scaffold-transform");
    let (project, wasm) = new_and_build(&dir, "transform");
    let got = records(
        &project,
        &wasm,
        &["--input", "sample-input.jsonl", "--config", "drop_if=spam"],
    );
    let tag = json!({"name": "tagged-by", "value": "my-transform"});
    assert_eq!(
        got,
        [
            json!({"topic": null, "partition": null, "timestamp": null, "key": "user-1",
                   "value": "{\"action\":\"buy\"}",
                   "headers": [{"name": "source", "value": "web"}, tag]}),
            json!({"topic": null, "partition": null, "timestamp": null, "key": "user-3",
                   "value": null, "headers": []}),
            json!({"topic": null, "partition": null, "timestamp": 1_700_000_000_000_i64,
                   "key": "user-4", "value": "{\"action\":\"view\"}", "headers": [tag]}),
        ]
    );
}

#[test]
fn a_new_partitioner_builds_checks_and_places_its_sample() {
    let dir = Scratch::new("scaffold-partitioner");
    let (project, wasm) = new_and_build(&dir, "partitioner");
    let got = records(
        &project,
        &wasm,
        &["--input", "sample-input.jsonl", "--partitions", "6"],
    );
    let keys = ["user-1", "user-2", "user-3", "user-4"];
    assert_eq!(got.len(), keys.len());
    for (r, key) in got.iter().zip(keys) {
        assert_eq!(r["key"], json!(key));
        assert_eq!(r["partition"], json!(fnv1a(key.as_bytes()) % 6), "{key}");
    }
}

#[test]
fn an_unknown_language_is_refused_with_the_known_ones() {
    let dir = Scratch::new("scaffold-lang");
    let out = streamplug()
        .args(["new", "source"])
        .arg(dir.path().join("p"))
        .args(["--lang", "cobol"])
        .output()
        .expect("run streamplug new");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no `cobol` templates") && stderr.contains("knows rust, c, python, js"),
        "{stderr}"
    );
    assert!(!dir.path().join("p").exists(), "nothing is written");
}

/// 64-bit FNV-1a, as the template's partitioner documents it.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
