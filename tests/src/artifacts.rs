//! Paths of the plugins built for `wasm32-wasip2` by `tests/build.rs` (which
//! rebuilds them whenever `plugins/` or `wit/` change).
//!
//! One constant per plugin package, named after it: `DATAGEN`,
//! `JSON_FILTER`, `KEYHASH_PARTITIONER`, `TEST_PANIC_ON_NTH`,
//! `TEST_INFINITE_LOOP`, `TEST_MEMORY_BOMB`, `TEST_BAD_OUTPUT`,
//! `TEST_TRAP_ON_INIT`, `TEST_PASSTHROUGH`, `TEST_BAD_PARTITION`, `TEST_SHAPES`,
//! `TEST_BIG_RECORD`, `TEST_CAPABILITIES`, and [`ALL`] listing them with their
//! package names.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
