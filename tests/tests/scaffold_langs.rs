//! `streamplug new --lang c|python|js|go`: the project builds with its
//! `./build.sh` (through the checkout's SDK build scripts, which install
//! the toolchains on first use), passes `streamplug check`, and makes the
//! same records under `streamplug test` as the Rust templates do.
//!
//! Every kind is built in every language: C and Go in a few seconds each,
//! Python and JavaScript in 20-30 s each.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use streamplug_tests::{Scratch, streamplug};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed:\n{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `streamplug new KIND my-KIND --lang LANG`, `./build.sh`, `streamplug check`.
fn new_and_build(dir: &Scratch, lang: &str, kind: &str) -> (PathBuf, PathBuf) {
    let project = dir.path().join(format!("my-{kind}"));
    run_ok(
        streamplug()
            .args(["new", kind])
            .arg(&project)
            .args(["--lang", lang]),
    );
    let built = run_ok(&mut Command::new(project.join("build.sh")));
    let wasm = PathBuf::from(built.lines().last().expect("build.sh printed nothing"));
    assert!(wasm.is_file(), "{} is not a file", wasm.display());
    let check = run_ok(streamplug().arg("check").arg(&wasm));
    assert!(
        check.contains(&format!("a valid streamplug {kind} plugin")),
        "{check}"
    );
    (project, wasm)
}

/// `streamplug test WASM ARGS` in the project folder: the records printed.
fn records(project: &Path, wasm: &Path, lang: &str, args: &[&str]) -> Vec<Value> {
    let memory: &[&str] = if lang == "c" || lang == "go" {
        &[]
    } else {
        &["--memory", "256MiB"]
    };
    run_ok(
        streamplug()
            .arg("test")
            .arg(wasm)
            .args(memory)
            .args(args)
            .current_dir(project),
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
    .collect()
}

fn source(lang: &str) {
    let dir = Scratch::new(&format!("scaffold-{lang}-source"));
    let (project, wasm) = new_and_build(&dir, lang, "source");
    let got = records(&project, &wasm, lang, &["--count", "5"]);
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
    let got = records(
        &project,
        &wasm,
        lang,
        &["--count", "100", "--config", "kind=x"],
    );
    assert_eq!(got.len(), 10);
    assert_eq!(got[9]["value"], json!("{\"seq\":9,\"kind\":\"x\"}"));
}

fn transform(lang: &str) {
    let dir = Scratch::new(&format!("scaffold-{lang}-transform"));
    let (project, wasm) = new_and_build(&dir, lang, "transform");
    let got = records(
        &project,
        &wasm,
        lang,
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

fn partitioner(lang: &str) {
    let dir = Scratch::new(&format!("scaffold-{lang}-partitioner"));
    let (project, wasm) = new_and_build(&dir, lang, "partitioner");
    let got = records(
        &project,
        &wasm,
        lang,
        &["--input", "sample-input.jsonl", "--partitions", "6"],
    );
    let keys = ["user-1", "user-2", "user-3", "user-4"];
    assert_eq!(got.len(), keys.len());
    for (r, key) in got.iter().zip(keys) {
        assert_eq!(r["key"], json!(key));
        assert_eq!(r["partition"], json!(fnv1a(key.as_bytes()) % 6), "{key}");
    }
}

/// 64-bit FNV-1a, as the templates' partitioners document it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn a_new_c_source_builds_checks_and_makes_its_records() {
    source("c");
}

#[test]
fn a_new_c_transform_builds_checks_and_transforms_its_sample() {
    transform("c");
}

#[test]
fn a_new_c_partitioner_builds_checks_and_places_its_sample() {
    partitioner("c");
}

#[test]
fn a_new_python_source_builds_checks_and_makes_its_records() {
    source("python");
}

#[test]
fn a_new_js_transform_builds_checks_and_transforms_its_sample() {
    transform("js");
}

#[test]
fn a_new_python_transform_builds_checks_and_transforms_its_sample() {
    transform("python");
}

#[test]
fn a_new_python_partitioner_builds_checks_and_places_its_sample() {
    partitioner("python");
}

#[test]
fn a_new_js_source_builds_checks_and_makes_its_records() {
    source("js");
}

#[test]
fn a_new_js_partitioner_builds_checks_and_places_its_sample() {
    partitioner("js");
}

#[test]
fn a_new_go_source_builds_checks_and_makes_its_records() {
    source("go");
}

#[test]
fn a_new_go_transform_builds_checks_and_transforms_its_sample() {
    transform("go");
}

#[test]
fn a_new_go_partitioner_builds_checks_and_places_its_sample() {
    partitioner("go");
}
