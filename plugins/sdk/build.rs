//! Generates the `export_source!`, `export_transform!` and `export_partitioner!`
//! macros from `wit/plugin.wit`, so the WIT text stays single-sourced.
//!
//! Each macro expands, inside the plugin crate, to one `wit_bindgen::generate!`
//! call for its own world (with the WIT inlined). A plugin binary therefore
//! carries exactly one `component-type` section, describing exactly one world.
//! The SDK crate itself never calls `generate!`. The core-wasm exports are
//! wit-bindgen's own, from the `export!` macro that `generate!` defines.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

struct World {
    macro_name: &'static str,
    world: &'static str,
    trait_name: &'static str,
    driver: &'static str,
    glue_trait: &'static str,
    /// The `impl Guest` body, forwarding to the glue trait.
    guest: &'static str,
}

const SOURCE_GUEST: &str = r#"
                fn setup(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    resume_from: ::core::option::Option<::std::vec::Vec<u8>>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    DRIVER.with_borrow_mut(|d| $crate::__private::SourceGlue::init(d, config, resume_from))
                }

                fn on_delivery(report: streamplug::plugin::source_types::DeliveryReport) {
                    DRIVER.with_borrow_mut(|d| {
                        $crate::__private::SourceGlue::on_delivery(d, report.committed, report.failed)
                    })
                }

                fn poll_records(
                    max_records: u32,
                    max_bytes: u64,
                ) -> ::core::result::Result<streamplug::plugin::source_types::PollResult, ::std::string::String>
                {
                    use $crate::__private::PollOutcome;
                    use streamplug::plugin::source_types::{PollResult, Polled};
                    DRIVER
                        .with_borrow_mut(|d| $crate::__private::SourceGlue::poll(d, max_records, max_bytes))
                        .map(|outcome| match outcome {
                            PollOutcome::Records(records, checkpoint) => {
                                PollResult::Records(Polled { records, checkpoint })
                            }
                            PollOutcome::Idle(ms) => PollResult::Idle(ms),
                            PollOutcome::Finished => PollResult::Finished,
                        })
                }
"#;

const TRANSFORM_GUEST: &str = r#"
                fn setup(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    DRIVER.with_borrow_mut(|d| $crate::__private::TransformGlue::init(d, config))
                }

                fn process(
                    batch: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    DRIVER.with_borrow_mut(|d| $crate::__private::TransformGlue::process(d, &batch))
                }
"#;

const PARTITIONER_GUEST: &str = r#"
                fn setup(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    DRIVER.with_borrow_mut(|d| $crate::__private::PartitionerGlue::init(d, config))
                }

                fn partition(
                    topic: ::std::string::String,
                    partition_count: u32,
                    batch: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u32>, ::std::string::String> {
                    DRIVER.with_borrow_mut(|d| {
                        $crate::__private::PartitionerGlue::partition(d, &topic, partition_count, &batch)
                    })
                }
"#;

const WORLDS: [World; 3] = [
    World {
        macro_name: "export_source",
        world: "source",
        trait_name: "Source",
        driver: "SourceDriver",
        glue_trait: "SourceGlue",
        guest: SOURCE_GUEST,
    },
    World {
        macro_name: "export_transform",
        world: "transform",
        trait_name: "Transform",
        driver: "TransformDriver",
        glue_trait: "TransformGlue",
        guest: TRANSFORM_GUEST,
    },
    World {
        macro_name: "export_partitioner",
        world: "partitioner",
        trait_name: "Partitioner",
        driver: "PartitionerDriver",
        glue_trait: "PartitionerGlue",
        guest: PARTITIONER_GUEST,
    },
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let wit_path = manifest_dir.join("../../wit/plugin.wit");
    println!("cargo:rerun-if-changed={}", wit_path.display());
    let wit = fs::read_to_string(&wit_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", wit_path.display()));

    // A raw string literal needs more `#`s than any `"#…` run in the text.
    let mut hashes = String::from("#");
    while wit.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }

    let mut out = String::from("// @generated by plugins/sdk/build.rs from wit/plugin.wit\n");
    for w in &WORLDS {
        let World {
            macro_name,
            world,
            trait_name,
            driver,
            glue_trait,
            guest,
        } = w;
        write!(
            out,
            r#"
/// Exports a type implementing [`{trait_name}`] as this crate's component
/// (world `streamplug:plugin/{world}`). Invoke it once, in a `cdylib` crate
/// that depends on `streamplug-sdk` under its own name.
///
/// On wasm targets this expands to the world's `wit_bindgen::generate!` and the
/// glue that keeps one instance of the type in SDK-held state; natively it only
/// checks that the type implements the trait, so plugin crates can be unit-tested.
#[macro_export]
macro_rules! {macro_name} {{
    (@glue $glue:ty) => {{
        #[doc(hidden)]
        #[allow(dead_code)]
        type __StreamplugGlue = $glue;

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(dead_code, unused_imports, clippy::all)]
        mod __streamplug_export {{
            $crate::__private::wit_bindgen::generate!({{
                inline: r{hashes}"{wit}"{hashes},
                world: "streamplug:plugin/{world}",
                runtime_path: "::streamplug_sdk::__private::wit_bindgen::rt",
            }});

            ::std::thread_local! {{
                static DRIVER: ::core::cell::RefCell<super::__StreamplugGlue> = const {{
                    ::core::cell::RefCell::new(
                        <super::__StreamplugGlue as $crate::__private::{glue_trait}>::NEW,
                    )
                }};
            }}

            struct Component;

            impl Guest for Component {{{guest}            }}

            export!(Component);
        }}
    }};
    ($t:ty) => {{
        const _: () = {{
            fn __streamplug_check<T: $crate::{trait_name}>() {{}}
            let _ = __streamplug_check::<$t>;
        }};
        $crate::{macro_name}!(@glue $crate::__private::{driver}<$t>);
    }};
}}
"#
        )
        .unwrap();
    }

    let dest = PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("export_macros.rs");
    fs::write(&dest, out).unwrap();
}
