//! `streamplug check` and config errors: every refusal names its cause.

use streamplug_tests::{Scratch, artifacts, streamplug};

fn check(path: &str) -> (bool, String, String) {
    let out = streamplug()
        .arg("check")
        .arg(path)
        .output()
        .expect("run check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_names_the_world_of_each_plugin() {
    for (path, world) in [
        (artifacts::DATAGEN, "source"),
        (artifacts::JSON_FILTER, "transform"),
        (artifacts::KEYHASH_PARTITIONER, "partitioner"),
    ] {
        let (ok, stdout, stderr) = check(path);
        assert!(ok, "{path}: {stderr}");
        assert!(
            stdout.contains(&format!("a valid streamplug {world} plugin")),
            "{stdout}"
        );
        assert!(stdout.contains("sha256"), "{stdout}");
    }
}

#[test]
fn check_explains_why_a_file_is_not_a_plugin() {
    let dir = Scratch::new("check");
    let cases = [
        (
            "garbage.wasm",
            &b"definitely not wasm"[..],
            "not WebAssembly",
        ),
        (
            "module.wasm",
            &b"\0asm\x01\0\0\0"[..],
            "core WebAssembly module, not a component",
        ),
        (
            "truncated.wasm",
            &b"\0asm\x0d\0\x01\0\x01"[..],
            "does not compile",
        ),
    ];
    for (name, bytes, why) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (ok, _, stderr) = check(p.to_str().unwrap());
        assert!(!ok, "{name} was accepted");
        assert!(
            stderr.contains("is not a valid streamplug plugin") && stderr.contains(why),
            "{name}: {stderr}"
        );
    }
    let (ok, _, stderr) = check("/nonexistent/plugin.wasm");
    assert!(
        !ok && stderr.contains("cannot read plugin file"),
        "{stderr}"
    );
}

#[test]
fn run_rejects_a_bad_config_naming_file_line_and_field() {
    let dir = Scratch::new("badconfig");
    let config = dir.write(
        "bad.toml",
        &format!(
            "[[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"t\"\nbatch_sise = 5\n",
            artifacts::DATAGEN
        ),
    );
    let out = streamplug().arg("run").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.toml")
            && stderr.contains("line 5")
            && stderr.contains("unknown field `batch_sise`"),
        "{stderr}"
    );
}

#[test]
fn run_rejects_a_plugin_of_the_wrong_world() {
    let dir = Scratch::new("wrongworld");
    let config = dir.write(
        "c.toml",
        &format!(
            "[[source]]\nname = \"oops\"\nwasm = \"{}\"\ntopic = \"t\"\n",
            artifacts::JSON_FILTER
        ),
    );
    let out = streamplug().arg("run").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("plugin `oops`")
            && stderr.contains("implements the transform world but is configured as a [[source]]"),
        "{stderr}"
    );
}

#[test]
fn run_rejects_an_unknown_librdkafka_property_by_name() {
    let dir = Scratch::new("badprop");
    let config = dir.write(
        "c.toml",
        &format!(
            "[kafka]\nproperties = {{ \"linger.mss\" = \"5\" }}\n[[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"t\"\n",
            artifacts::DATAGEN
        ),
    );
    let out = streamplug().arg("run").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot create the Kafka producer") && stderr.contains("linger.mss"),
        "{stderr}"
    );
}
