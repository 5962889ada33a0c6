#!/usr/bin/env bash
# Installs what plugins in other languages than Rust need, from package
# registries only, and caches it; a second run does nothing and costs well
# under a second. Usage: plugins/toolchains.sh [c|python|js|go|all]...  (default: all)
#
#   c: Debian's clang-19, lld-19, wasi-libc and the wasm32 compiler runtime
#      (apt), and streamplug-guest-tools (built from this workspace into
#      target/guest-tools), which makes a wasm32-wasip1 module a component.
#   python: componentize-py (PyPI, pinned) in a virtualenv under
#      ~/.cache/streamplug/python-componentize-py-<version>.
#   js: @bytecodealliance/componentize-js (npm, pinned; it brings rolldown)
#      under ~/.cache/streamplug/js-componentize-<version>.
#   go: the Go on PATH if it is 1.24 or later (//go:wasmexport); otherwise
#      Go 1.26.8 from the Go module proxy (golang.org/toolchain, fetched with
#      Debian's golang-1.19-go) into ~/.cache/streamplug/go-1.26.8.
#      And streamplug-guest-tools, as for C.
#   go-test: go, and wazero (Go module proxy, pinned) under
#      ~/.cache/streamplug/wazero-<version>: the WebAssembly runtime in which
#      plugins/sdk-go/test.sh runs the SDK's wasip1-only tests.
#
# Prints nothing on stdout but, with --print-env, the variables a build script
# evaluates: STREAMPLUG_CLANG, STREAMPLUG_GUEST_TOOLS, STREAMPLUG_COMPONENTIZE_PY, STREAMPLUG_JS_BIN, STREAMPLUG_GO, STREAMPLUG_WAZERO.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/streamplug"
mkdir -p "$cache"

print_env=0
langs=()
for arg in "$@"; do
    case "$arg" in
        --print-env) print_env=1 ;;
        c|python|js|go|go-test|all) langs+=("$arg") ;;
        *) echo "toolchains.sh: unknown language \`$arg\` (known: c, python, js, go, go-test, all)" >&2; exit 2 ;;
    esac
done
[ ${#langs[@]} -eq 0 ] && langs=(all)

# Several builds may install at once (tests run in parallel): one at a time.
exec 9>"$cache/toolchains.lock"
flock 9

apt_install() {
    local run=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            run=(sudo)
        else
            echo "toolchains.sh: need root (or sudo) to run: apt-get install $*" >&2
            exit 1
        fi
    fi
    echo "toolchains.sh: installing $* (apt)" >&2
    # A stale package list can name versions the mirror no longer has.
    "${run[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
}

# streamplug-guest-tools: makes a wasm32-wasip1 module (C, Go) a component.
guest_tools() {
    # Built in its own target folder: a build script (tests/build.rs) may
    # call this while the outer build holds the lock of target/release.
    tools="$root/target/guest-tools/release/streamplug-guest-tools"
    local stamp="$root/target/guest-tools/sources.sha256"
    local sum
    sum="$(cat "$root/plugins/guest-tools/Cargo.toml" "$root/plugins/guest-tools/src/"*.rs "$root/Cargo.lock" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$tools" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        echo "toolchains.sh: building streamplug-guest-tools" >&2
        (
            cd "$root"
            for var in RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET \
                CARGO_MAKEFLAGS MAKEFLAGS MFLAGS RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_TARGET_DIR; do
                unset "$var"
            done
            CARGO_TARGET_DIR="$root/target/guest-tools" CARGO_PROFILE_RELEASE_DEBUG=false \
                cargo build --release --locked -q -p streamplug-guest-tools >&2
        )
        echo "$sum" >"$stamp"
    fi
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_GUEST_TOOLS=$tools"
    fi
}

c_toolchain() {
    if ! command -v clang-19 >/dev/null 2>&1 || ! command -v wasm-ld-19 >/dev/null 2>&1 \
        || [ ! -f /usr/lib/wasm32-wasi/libc.a ] \
        || ! ls /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then
        apt_install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
    fi
    guest_tools
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_CLANG=$(command -v clang-19)"
    fi
}

COMPONENTIZE_PY_VERSION=0.25.1

python_toolchain() {
    local venv="$cache/python-componentize-py-$COMPONENTIZE_PY_VERSION"
    if [ ! -x "$venv/bin/componentize-py" ]; then
        echo "toolchains.sh: installing componentize-py $COMPONENTIZE_PY_VERSION (PyPI)" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    fi
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_COMPONENTIZE_PY=$venv/bin/componentize-py"
    fi
}

COMPONENTIZE_JS_VERSION=0.23.0

js_toolchain() {
    local dir="$cache/js-componentize-$COMPONENTIZE_JS_VERSION"
    if [ ! -x "$dir/node_modules/.bin/componentize-js" ] || [ ! -x "$dir/node_modules/.bin/rolldown" ]; then
        echo "toolchains.sh: installing componentize-js $COMPONENTIZE_JS_VERSION (npm)" >&2
        mkdir -p "$dir"
        (cd "$dir" && npm install --no-audit --no-fund --silent \
            "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION" >&2)
    fi
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_JS_BIN=$dir/node_modules/.bin"
    fi
}

# The Go that builds Go plugins when the machine has none of 1.24 or later
# on PATH: the machine image's version, so that every machine builds alike.
GO_VERSION=1.26.8
# Debian's own Go (bookworm: 1.19) is too old for //go:wasmexport, but it is
# a Go module client: it fetches the toolchain module that the go command
# itself downloads when it switches toolchains (golang.org/toolchain, a zip of
# a whole GOROOT), checked against the Go checksum database, from the
# machine's Go module proxy.
GO_BOOTSTRAP=golang-1.19-go
GO_BOOTSTRAP_BIN=/usr/lib/go-1.19/bin/go

# The minor version of a Go binary ("" when it does not run).
go_minor() {
    "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'
}

install_go() {
    local dest="$1" arch
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "toolchains.sh: no Go toolchain module for $(uname -m)" >&2; exit 1 ;;
    esac
    [ -x "$GO_BOOTSTRAP_BIN" ] || apt_install "$GO_BOOTSTRAP"
    local module="golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch"
    echo "toolchains.sh: installing Go $GO_VERSION (the Go module $module)" >&2
    local tmp dir
    tmp="$(mktemp -d "$cache/go-download-XXXXXX")"
    # A module cache of its own, writable so that it can be moved and removed.
    dir="$(cd "$tmp" && env GOMODCACHE="$tmp/mod" GOPATH="$tmp/gopath" GOFLAGS=-modcacherw \
        GO111MODULE=on "$GO_BOOTSTRAP_BIN" mod download -json "$module" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    if [ -z "$dir" ] || [ ! -f "$dir/bin/go" ]; then
        rm -rf "$tmp"
        echo "toolchains.sh: downloading $module gave no Go toolchain" >&2
        exit 1
    fi
    # Module zips keep no file modes: the go command marks these executable too.
    chmod +x "$dir/bin/"* "$dir/pkg/tool/"*/*
    rm -rf "$dest"
    mv "$dir" "$dest"
    rm -rf "$tmp"
}

go_toolchain() {
    local minor
    go="$(command -v go || true)"
    minor=""
    [ -n "$go" ] && minor="$(go_minor "$go")"
    if [ -z "$minor" ] || [ "$minor" -lt 24 ]; then
        # None, or too old for //go:wasmexport: the project's own copy.
        go="$cache/go-$GO_VERSION/bin/go"
        [ -n "$(go_minor "$go")" ] || install_go "$cache/go-$GO_VERSION"
    fi
    guest_tools
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_GO=$go"
    fi
}

WAZERO_VERSION=v1.12.0

wazero_tool() {
    local dir="$cache/wazero-$WAZERO_VERSION"
    if [ ! -x "$dir/wazero" ]; then
        echo "toolchains.sh: installing wazero $WAZERO_VERSION (Go module proxy)" >&2
        GOBIN="$dir" GOFLAGS= GOTOOLCHAIN=local \
            "$go" install "github.com/tetratelabs/wazero/cmd/wazero@$WAZERO_VERSION" >&2
    fi
    if [ $print_env -eq 1 ]; then
        echo "STREAMPLUG_WAZERO=$dir/wazero"
    fi
}

for lang in "${langs[@]}"; do
    case "$lang" in
        c) c_toolchain ;;
        python) python_toolchain ;;
        js) js_toolchain ;;
        go) go_toolchain ;;
        go-test) go_toolchain; wazero_tool ;;
        all) c_toolchain; python_toolchain; js_toolchain; go_toolchain ;;
    esac
done
