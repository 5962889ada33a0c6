//! `streamplug new`: writes a ready plugin project from the templates in
//! `templates/` (compiled in with `include_str!`): a build file, the plugin
//! with a working example of its world's methods and unit tests, a README,
//! a sample config and `build.sh`. It builds with `./build.sh` and passes
//! `streamplug check` and `streamplug test` as written.
//!
//! The project depends on the SDK by path: the `plugins/sdk` of the
//! streamplug checkout this binary was built from (`cargo install --path
//! host` keeps that path), or `--sdk`. A path works offline and always
//! matches the host's contract version; the generated `Cargo.toml` says how
//! to switch to a git dependency.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

mod langs;

/// The `plugins/sdk` of the checkout this binary was built from.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk");

/// Languages with templates: Rust, and those of `langs::LANGUAGES`.
fn languages() -> Vec<&'static str> {
    std::iter::once("rust")
        .chain(langs::LANGUAGES.iter().map(|l| l.name))
        .collect()
}

/// Create a plugin project: `./build.sh` builds it, and it passes
/// `streamplug check` and `streamplug test` as it is.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The kind of plugin (the WIT world it implements).
    pub kind: Kind,
    /// The folder to create; its last part is the plugin's name (letters,
    /// digits, `-` and `_`, starting with a letter).
    pub path: PathBuf,
    /// The language of the project: rust, c, python, js or go.
    #[arg(long, default_value = "rust")]
    pub lang: String,
    /// The streamplug SDK to use (a checkout's `plugins/sdk`, or
    /// `plugins/sdk-c`, `sdk-python`, `sdk-js` for the other languages).
    /// Default: the one in the checkout streamplug was built from.
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Source,
    Transform,
    Partitioner,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Transform => "transform",
            Kind::Partitioner => "partitioner",
        }
    }
}

/// One file of a project: where it goes, its template, whether it runs.
#[derive(Clone, Copy)]
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const COMMON: &[File] = &[
    file(
        "Cargo.toml",
        include_str!("templates/rust/common/Cargo.toml"),
    ),
    File {
        path: "build.sh",
        text: include_str!("templates/rust/common/build.sh"),
        executable: true,
    },
    file(
        ".gitignore",
        include_str!("templates/rust/common/gitignore"),
    ),
    file("README.md", include_str!("templates/rust/common/README.md")),
];

const SOURCE: &[File] = &[
    file("src/lib.rs", include_str!("templates/rust/source/lib.rs")),
    file(
        "src/tests.rs",
        include_str!("templates/rust/source/tests.rs"),
    ),
    file(
        "streamplug.toml",
        include_str!("templates/rust/source/streamplug.toml"),
    ),
];

const TRANSFORM: &[File] = &[
    file(
        "src/lib.rs",
        include_str!("templates/rust/transform/lib.rs"),
    ),
    file(
        "src/tests.rs",
        include_str!("templates/rust/transform/tests.rs"),
    ),
    file(
        "streamplug.toml",
        include_str!("templates/rust/transform/streamplug.toml"),
    ),
    file(
        "sample-input.jsonl",
        include_str!("templates/rust/transform/sample-input.jsonl"),
    ),
];

const PARTITIONER: &[File] = &[
    file(
        "src/lib.rs",
        include_str!("templates/rust/partitioner/lib.rs"),
    ),
    file(
        "src/tests.rs",
        include_str!("templates/rust/partitioner/tests.rs"),
    ),
    file(
        "streamplug.toml",
        include_str!("templates/rust/partitioner/streamplug.toml"),
    ),
    file(
        "sample-input.jsonl",
        include_str!("templates/rust/partitioner/sample-input.jsonl"),
    ),
];

/// What the README says about each kind: what it does, how to try it, its config.
fn readme_parts(kind: Kind) -> [(&'static str, &'static str); 3] {
    match kind {
        Kind::Source => [
            (
                "__ABOUT__",
                "The example makes `count` JSON events, keyed `key-0` to `key-3`, each with a `seq` header, and then finishes.",
            ),
            ("__TEST_ARGS__", " --count 5"),
            (
                "__CONFIG__",
                "| key | default | meaning |\n|---|---|---|\n| `count` | `10` | records to make, then the source is finished |\n| `kind` | `event` | the `kind` field of each JSON value |",
            ),
        ],
        Kind::Transform => [
            (
                "__ABOUT__",
                "The example drops records whose value contains `drop_if`, adds a `tagged-by` header to the others, and passes tombstones (records without a value) through unchanged.",
            ),
            (
                "__TEST_ARGS__",
                " --input sample-input.jsonl --config drop_if=spam",
            ),
            (
                "__CONFIG__",
                "| key | default | meaning |\n|---|---|---|\n| `drop_if` | none | drop records whose value contains this text |\n| `tag` | the plugin's name | the value of the `tagged-by` header |",
            ),
        ],
        Kind::Partitioner => [
            (
                "__ABOUT__",
                "The example places keyed records by a hash of the key (FNV-1a), so a key always goes to the same partition, and records without a key round-robin.",
            ),
            (
                "__TEST_ARGS__",
                " --input sample-input.jsonl --partitions 6",
            ),
            ("__CONFIG__", "None: any setting is an error."),
        ],
    }
}

/// Runs `streamplug new`.
pub fn execute(args: Args) -> Result<()> {
    if !languages().contains(&args.lang.as_str()) {
        bail!(
            "there are no `{}` templates: `streamplug new` knows {}",
            args.lang,
            languages().join(", ")
        );
    }
    let name = project_name(&args.path)?;
    let dir = args.path.display();
    if let Some(lang) = langs::find(&args.lang) {
        let sdk = lang.sdk(args.sdk.as_deref(), Path::new(BUILT_FROM_SDK))?;
        create_in(&args.path, args.kind, &name, &sdk, Some(lang))?;
        println!(
            "created the {} plugin `{name}` ({}) in {dir}",
            args.kind.name(),
            args.lang
        );
        println!("  cd {dir} && ./build.sh     # its last line is the .wasm");
        println!("  then: streamplug check <that .wasm>; streamplug test <that .wasm>");
        return Ok(());
    }
    let sdk = find_sdk(args.sdk.as_deref())?;
    create(&args.path, args.kind, &name, &sdk)?;
    println!("created the {} plugin `{name}` in {dir}", args.kind.name());
    println!("  cd {dir} && ./build.sh     # its last line is the .wasm");
    println!("  then: streamplug check <that .wasm>; streamplug test <that .wasm>; cargo test");
    Ok(())
}

/// Writes the Rust project for `kind` into `dir`, which must not exist or be empty.
pub fn create(dir: &Path, kind: Kind, name: &str, sdk: &Path) -> Result<()> {
    create_in(dir, kind, name, sdk, None)
}

/// Writes the project for `kind` in `lang` (Rust if `None`) into `dir`.
fn create_in(
    dir: &Path,
    kind: Kind,
    name: &str,
    sdk: &Path,
    lang: Option<&langs::Language>,
) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty: choose a new folder",
            dir.display()
        );
    }
    let rust_files = match kind {
        Kind::Source => SOURCE,
        Kind::Transform => TRANSFORM,
        Kind::Partitioner => PARTITIONER,
    };
    let (files, lang_values): (Vec<File>, _) = match lang {
        Some(l) => l.files(kind),
        None => (
            COMMON.iter().chain(rust_files).copied().collect(),
            Vec::new(),
        ),
    };
    let sdk_text = sdk.display().to_string();
    let sdk_toml = toml_string(&sdk_text);
    let repo = sdk
        .parent()
        .and_then(Path::parent)
        .map_or(String::new(), |r| r.display().to_string());
    let mut values = vec![
        ("__NAME__", name.to_string()),
        ("__CRATE__", name.replace('-', "_")),
        ("__TYPE__", type_name(name)),
        ("__KIND__", kind.name().to_string()),
        (
            "__SDK__",
            format!("streamplug-sdk = {{ path = {sdk_toml} }}"),
        ),
        (
            "__SDK_TESTING__",
            format!("streamplug-sdk = {{ path = {sdk_toml}, features = [\"testing\"] }}"),
        ),
        ("__REPO__", repo),
    ];
    values.extend(
        readme_parts(kind)
            .into_iter()
            .map(|(k, v)| (k, v.to_string())),
    );
    values.extend(lang_values);
    for f in &files {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = fill(f.text, &values);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        if f.executable {
            make_executable(&path)?;
        }
    }
    Ok(())
}

/// The template with each placeholder replaced.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(key, value)
        })
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions();
    perms.set_mode(perms.mode() | 0o111);
    std::fs::set_permissions(path, perms)
        .with_context(|| format!("cannot make {} executable", path.display()))
}

/// The SDK to depend on: `--sdk`, or the one streamplug was built from.
fn find_sdk(given: Option<&Path>) -> Result<PathBuf> {
    let (dir, how) = match given {
        Some(d) => (d.to_path_buf(), "--sdk"),
        None => (
            PathBuf::from(BUILT_FROM_SDK),
            "the checkout streamplug was built from",
        ),
    };
    let manifest = dir.join("Cargo.toml");
    let is_sdk =
        std::fs::read_to_string(&manifest).is_ok_and(|t| t.contains("name = \"streamplug-sdk\""));
    if !is_sdk {
        bail!(
            "no streamplug SDK at {} ({how}): pass --sdk with the `plugins/sdk` folder of a streamplug checkout",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// The last part of `path`, if it is a valid package name.
fn project_name(path: &Path) -> Result<String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} does not end in a folder name", path.display()))?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` cannot be a plugin name: use letters, digits, `-` and `_`, starting with a letter"
        );
    }
    Ok(name.to_string())
}

/// `my-source` → `MySource`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut c = part.chars();
            c.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types_and_bad_names_are_refused() {
        assert_eq!(type_name("my-source"), "MySource");
        assert_eq!(type_name("a_b-c"), "ABC");
        assert_eq!(project_name(Path::new("x/my-plugin")).unwrap(), "my-plugin");
        let e = project_name(Path::new("1abc")).unwrap_err().to_string();
        assert!(e.contains("starting with a letter"), "{e}");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = std::env::temp_dir().join(format!("sp-scaffold-{}", std::process::id()));
        let sdk = find_sdk(None).unwrap();
        for kind in [Kind::Source, Kind::Transform, Kind::Partitioner] {
            let d = dir.join(kind.name());
            create(&d, kind, "my-plugin", &sdk).unwrap();
            for entry in walk(&d) {
                let text = std::fs::read_to_string(&entry).unwrap();
                assert!(
                    !text.contains("__NAME__")
                        && !text.contains("__TYPE__")
                        && !text.contains("__SDK")
                        && !text.contains("__REPO__")
                        && !text.contains("__CRATE__"),
                    "{}",
                    entry.display()
                );
            }
            let e = create(&d, kind, "my-plugin", &sdk).unwrap_err().to_string();
            assert!(e.contains("already exists"), "{e}");
        }
        for lang in langs::LANGUAGES {
            let lang_sdk = lang.sdk(None, Path::new(BUILT_FROM_SDK)).unwrap();
            for kind in [Kind::Source, Kind::Transform, Kind::Partitioner] {
                let d = dir.join(lang.name).join(kind.name());
                create_in(&d, kind, "my-plugin", &lang_sdk, Some(lang)).unwrap();
                for entry in walk(&d) {
                    let text = std::fs::read_to_string(&entry).unwrap();
                    for placeholder in [
                        "__NAME__",
                        "__KIND__",
                        "__REPO__",
                        "__LANG",
                        "__LIMITS__",
                        "__MEMORY_ARG__",
                        "__SDK_DIR__",
                        "__ABOUT__",
                        "__CONFIG__",
                        "__TEST_ARGS__",
                    ] {
                        assert!(
                            !text.contains(placeholder),
                            "{placeholder} in {}",
                            entry.display()
                        );
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn other_languages_are_refused_with_the_list() {
        let e = execute(Args {
            kind: Kind::Source,
            path: PathBuf::from("/nonexistent/x"),
            lang: "cobol".into(),
            sdk: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no `cobol` templates") && e.contains("knows rust, c, python, js, go"),
            "{e}"
        );
    }
}
