#!/usr/bin/env bash
# Builds every guest plugin (plugins/datagen, json-filter, keyhash-partitioner
# and plugins/testing/*) as WebAssembly components:
#   target/wasm-plugins/wasm32-wasip2/release/<name>.wasm
# The same build tests/build.rs runs (own target dir, no DWARF). Extra
# arguments go to cargo, e.g. `plugins/build.sh -p datagen`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The target is added when missing (with rustup); without rustup, say how.
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2/lib" ]; then
    if command -v rustup >/dev/null 2>&1; then
        echo "adding the wasm32-wasip2 target (rustup target add wasm32-wasip2)" >&2
        rustup target add wasm32-wasip2 >&2
    else
        echo "the wasm32-wasip2 target is not installed and rustup is not on PATH: install the target for your Rust toolchain" >&2
        exit 1
    fi
fi

packages=()
if [ "$#" -eq 0 ] || [[ "$*" != *"-p "* && "$*" != *"--package"* ]]; then
    for dir in plugins/datagen plugins/json-filter plugins/keyhash-partitioner plugins/testing/*/; do
        [ -f "$dir/Cargo.toml" ] || continue
        name="$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)"
        packages+=(-p "$name")
    done
fi

export CARGO_TARGET_DIR="$root/target/wasm-plugins"
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_PROFILE_RELEASE_STRIP=debuginfo
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET

cargo build --release --target wasm32-wasip2 "${packages[@]}" "$@"

ls -l "$CARGO_TARGET_DIR"/wasm32-wasip2/release/*.wasm
