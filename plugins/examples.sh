#!/usr/bin/env bash
# Builds the example and test plugins written in other languages than Rust
# into target/lang-plugins/NAME.wasm, installing their toolchains first
# (plugins/toolchains.sh). Usage: plugins/examples.sh [NAME...] (default:
# all); prints each component's path. Rebuilds only what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/target/lang-plugins"
mkdir -p "$out"

# NAME  LANGUAGE  WORLD  SOURCES (relative to plugins/)
examples=(
    "c-redact c transform sdk-c/examples/redact/redact.c"
    "c-abort-on-call c transform sdk-c/tests/plugins/abort_on_call.c"
    "c-counter c source sdk-c/tests/plugins/counter.c"
    "python-csv-replay python source sdk-python/examples/csv_replay/app.py"
    "python-raise-on-call python transform sdk-python/tests/plugins/raise_on_call.py"
    "js-route js transform sdk-js/examples/route/app.js"
    "js-throw-on-call js transform sdk-js/tests/plugins/throw_on_call.js"
    "js-drop-all js transform sdk-js/tests/plugins/drop_all.js"
    "go-partition-by-field go partitioner sdk-go/examples/partition_by_field/main.go"
    "go-panic-on-call go partitioner sdk-go/tests/plugins/panic_on_call/main.go"
    "go-passthrough go transform sdk-go/tests/plugins/passthrough/main.go"
    "go-counter go source sdk-go/tests/plugins/counter/main.go"
)

# What a plugin's build depends on besides its sources.
sdk_inputs() {
    case "$1" in
        c) echo "$root/plugins/sdk-c/include/streamplug.h $root/plugins/sdk-c/src/"* "$root/plugins/sdk-c/build.sh" ;;
        python) echo "$root/plugins/sdk-python/streamplug/"*.py "$root/plugins/sdk-python/build.sh" ;;
        js) echo "$root/plugins/sdk-js/"*.js "$root/plugins/sdk-js/build.sh" ;;
        go) echo "$root/plugins/sdk-go/"*.go "$root/plugins/sdk-go/"*/*.go "$root/plugins/sdk-go/internal/abi/"*.go \
            "$root/plugins/sdk-go/go.mod" "$root/plugins/sdk-go/build.sh" ;;
    esac
}

wanted=("$@")
found=0
for line in "${examples[@]}"; do
    read -r name lang world sources <<<"$line"
    if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then
        continue
    fi
    found=$((found + 1))
    wasm="$out/$name.wasm"
    srcs=()
    for s in $sources; do srcs+=("$root/plugins/$s"); done
    # Rebuilt when an input or the contract changed (or it is missing).
    stamp="$out/$name.sha256"
    sum="$(cat "${srcs[@]}" $(sdk_inputs "$lang") "$root/wit/plugin.wit" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$wasm" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        case "$lang" in
            c) "$root/plugins/sdk-c/build.sh" "$world" "$wasm" "${srcs[@]}" >/dev/null ;;
            python) "$root/plugins/sdk-python/build.sh" "$world" "$wasm" "${srcs[@]}" >/dev/null ;;
            js) "$root/plugins/sdk-js/build.sh" "$world" "$wasm" "${srcs[@]}" >/dev/null ;;
            go) "$root/plugins/sdk-go/build.sh" "$world" "$wasm" "${srcs[0]}" >/dev/null ;;
        esac
        echo "$sum" >"$stamp"
    fi
    echo "$wasm"
done
if [ ${#wanted[@]} -gt 0 ] && [ "$found" -ne ${#wanted[@]} ]; then
    echo "examples.sh: unknown example among: ${wanted[*]}" >&2
    exit 2
fi
