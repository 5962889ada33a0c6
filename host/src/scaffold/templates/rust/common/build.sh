#!/usr/bin/env bash
# Builds this plugin as a WebAssembly component. The last line printed is the
# path of the built .wasm, so `streamplug check "$(./build.sh | tail -n1)"`
# works. Extra arguments go to cargo (e.g. `./build.sh --offline`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

target=wasm32-wasip2
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    echo "build.sh: adding the $target target (rustup target add $target)" >&2
    rustup target add "$target" >&2
fi

cargo build --release --target "$target" "$@" >&2

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in
    /*) ;;
    *) target_dir="$PWD/$target_dir" ;;
esac
wasm="$target_dir/$target/release/__CRATE__.wasm"
if [ ! -f "$wasm" ]; then
    echo "build.sh: cargo succeeded but $wasm is missing" >&2
    exit 1
fi
echo "$wasm"
