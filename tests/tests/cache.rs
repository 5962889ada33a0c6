//! Components are compiled once and then loaded from the on-disk cache,
//! keyed by content hash; a damaged cache entry is recompiled, not trusted.

use streamplug::engine;
use streamplug::plugin::{self, CompileCache, Origin};
use streamplug_tests::{Scratch, artifacts};

#[test]
fn second_load_comes_from_the_cache_and_a_corrupt_entry_is_recompiled() {
    let dir = Scratch::new("cache");
    let engine = engine::build(false).unwrap();
    let linker = plugin::linker(&engine).unwrap();
    let cache = CompileCache::new(&engine, dir.path().to_path_buf());
    let path = std::path::Path::new(artifacts::DATAGEN);

    let first = plugin::load(&engine, &linker, &cache, path).unwrap();
    assert_eq!(first.origin, Origin::Compiled);
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one artifact: {entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&first.hash),
        "keyed by the content hash: {name}"
    );

    let second = plugin::load(&engine, &linker, &cache, path).unwrap();
    assert_eq!(second.origin, Origin::Cached);
    assert_eq!(second.hash, first.hash);

    // Loaded components mmap their artifact: release them before damaging
    // the file in place, as the cache itself never does (it renames).
    drop((first, second));
    std::fs::write(&entries[0], b"not a compiled component").unwrap();
    let third = plugin::load(&engine, &linker, &cache, path).unwrap();
    assert_eq!(
        third.origin,
        Origin::Compiled,
        "a damaged artifact is replaced"
    );
    let fourth = plugin::load(&engine, &linker, &cache, path).unwrap();
    assert_eq!(fourth.origin, Origin::Cached);
}

/// Plugins of one file share one loaded component (its code mapped once),
/// for as long as any of them is in use.
#[test]
fn plugins_of_one_file_share_one_loaded_component() {
    let dir = Scratch::new("shared-load");
    let engine = engine::build(false).unwrap();
    let loader = plugin::Loader::new(&engine, Some(dir.path().to_path_buf())).unwrap();
    let path = std::path::Path::new(artifacts::DATAGEN);
    let a = loader.load_as("a", path, plugin::World::Source).unwrap();
    let b = loader.load_as("b", path, plugin::World::Source).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b), "loaded twice");
    // Sharing does not skip the world check.
    let e = loader
        .load_as("c", path, plugin::World::Transform)
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("is configured as a [[transform]]"),
        "{e:#}"
    );
}
