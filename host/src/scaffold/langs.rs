//! `streamplug new --lang c|python|js|go`: projects for the SDKs in
//! `plugins/sdk-c`, `plugins/sdk-python`, `plugins/sdk-js` and `plugins/sdk-go`. The project's
//! `build.sh` calls the SDK's own build script in the checkout, which
//! installs the language's toolchain on first use.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{File, Kind};

/// A language other than Rust: its SDK folder and templates.
pub struct Language {
    pub name: &'static str,
    title: &'static str,
    sdk_dir: &'static str,
    plugin_file: &'static str,
    build: &'static str,
    source: &'static str,
    transform: &'static str,
    partitioner: &'static str,
    /// A limit for Python and JavaScript runtimes, with headroom (see the README).
    memory: Option<&'static str>,
    /// More files of every project (path, template).
    extra: &'static [(&'static str, &'static str)],
}

pub const LANGUAGES: &[Language] = &[
    Language {
        name: "c",
        title: "C",
        sdk_dir: "sdk-c",
        plugin_file: "plugin.c",
        build: include_str!("templates/c/build.sh"),
        source: include_str!("templates/c/source.c"),
        transform: include_str!("templates/c/transform.c"),
        partitioner: include_str!("templates/c/partitioner.c"),
        memory: None,
        extra: &[],
    },
    Language {
        name: "python",
        title: "Python",
        sdk_dir: "sdk-python",
        plugin_file: "app.py",
        build: include_str!("templates/python/build.sh"),
        source: include_str!("templates/python/source.py"),
        transform: include_str!("templates/python/transform.py"),
        partitioner: include_str!("templates/python/partitioner.py"),
        memory: Some("256MiB"),
        extra: &[],
    },
    Language {
        name: "js",
        title: "JavaScript",
        sdk_dir: "sdk-js",
        plugin_file: "app.js",
        build: include_str!("templates/js/build.sh"),
        source: include_str!("templates/js/source.js"),
        transform: include_str!("templates/js/transform.js"),
        partitioner: include_str!("templates/js/partitioner.js"),
        memory: Some("256MiB"),
        extra: &[],
    },
    Language {
        name: "go",
        title: "Go",
        sdk_dir: "sdk-go",
        plugin_file: "plugin.go",
        build: include_str!("templates/go/build.sh"),
        source: include_str!("templates/go/source.go"),
        transform: include_str!("templates/go/transform.go"),
        partitioner: include_str!("templates/go/partitioner.go"),
        memory: None,
        extra: &[("go.mod", include_str!("templates/go/go.mod"))],
    },
];

pub fn find(name: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.name == name)
}

impl Language {
    /// The SDK folder: `given` (`--sdk`), or the one beside the Rust SDK of
    /// the checkout streamplug was built from.
    pub fn sdk(&self, given: Option<&Path>, built_from: &Path) -> Result<PathBuf> {
        let (dir, how) = match given {
            Some(d) => (d.to_path_buf(), "--sdk"),
            None => (
                built_from.join("..").join(self.sdk_dir),
                "the checkout streamplug was built from",
            ),
        };
        if !dir.join("build.sh").is_file() {
            bail!(
                "no streamplug {} SDK at {} ({how}): pass --sdk with the `plugins/{}` folder of a streamplug checkout",
                self.title,
                dir.display(),
                self.sdk_dir
            );
        }
        dir.canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))
    }

    /// The files of a `kind` project, and the placeholders only they use.
    pub fn files(&self, kind: Kind) -> (Vec<File>, Vec<(&'static str, String)>) {
        let (plugin, toml) = match kind {
            Kind::Source => (self.source, include_str!("templates/other/source.toml")),
            Kind::Transform => (
                self.transform,
                include_str!("templates/other/transform.toml"),
            ),
            Kind::Partitioner => (
                self.partitioner,
                include_str!("templates/other/partitioner.toml"),
            ),
        };
        let mut files = vec![
            File {
                path: "build.sh",
                text: self.build,
                executable: true,
            },
            super::file(self.plugin_file, plugin),
            super::file("streamplug.toml", toml),
            super::file("README.md", include_str!("templates/other/README.md")),
            super::file(".gitignore", include_str!("templates/other/gitignore")),
        ];
        files.extend(
            self.extra
                .iter()
                .map(|(path, text)| super::file(path, text)),
        );
        match kind {
            Kind::Source => {}
            Kind::Transform => files.push(super::file(
                "sample-input.jsonl",
                include_str!("templates/rust/transform/sample-input.jsonl"),
            )),
            Kind::Partitioner => files.push(super::file(
                "sample-input.jsonl",
                include_str!("templates/rust/partitioner/sample-input.jsonl"),
            )),
        }
        let values = vec![
            ("__LANGUAGE__", self.title.to_string()),
            ("__LANG__", self.name.to_string()),
            ("__SDK_DIR__", self.sdk_dir.to_string()),
            (
                "__LIMITS__",
                self.memory.map_or(String::new(), |m| {
                    format!("limits = {{ memory = \"{m}\" }}")
                }),
            ),
            (
                "__MEMORY_ARG__",
                self.memory
                    .map_or(String::new(), |m| format!(" --memory {m}")),
            ),
        ];
        (files, values)
    }
}
