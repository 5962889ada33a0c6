#!/usr/bin/env bash
# Checks that a machine without Go builds Go plugins: runs plugins/toolchains.sh
# and build.sh with no `go` on PATH and an empty cache (a temporary
# XDG_CACHE_HOME), so that Go is installed as on a fresh machine, then builds
# the pass-through test plugin and checks it with `streamplug check` when the
# release binary is built. Downloads about 70 MB (and Debian's golang-1.19-go
# once); not part of the test command. Usage: plugins/sdk-go/fresh-toolchain.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/streamplug-fresh-go-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# PATH without any folder that holds a `go`.
path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ ! -e "$d/go" ] && path="${path:+$path:}$d"
done
run() { env PATH="$path" XDG_CACHE_HOME="$scratch/cache" GOCACHE="$scratch/go-build" "$@"; }
if run bash -c 'command -v go' >/dev/null; then
    echo "fresh-toolchain.sh: go is still on PATH" >&2
    exit 1
fi

start=$(date +%s)
eval "$(run "$root/plugins/toolchains.sh" go --print-env)"
case "$STREAMPLUG_GO" in
    "$scratch/cache/streamplug/go-"*) ;;
    *) echo "fresh-toolchain.sh: expected a Go installed under $scratch/cache, got $STREAMPLUG_GO" >&2; exit 1 ;;
esac
echo "installed: $("$STREAMPLUG_GO" version) in $(($(date +%s) - start)) s ($(du -sh "$scratch/cache/streamplug" | cut -f1))"
start=$(date +%s)
wasm="$(run "$here/build.sh" transform "$scratch/passthrough.wasm" "$here/tests/plugins/passthrough" | tail -n1)"
echo "built: $wasm ($(stat -c %s "$wasm") bytes) in $(($(date +%s) - start)) s"
if [ -x "$root/target/release/streamplug" ]; then
    "$root/target/release/streamplug" check "$wasm"
fi
# A second run finds the cached Go and installs nothing.
start=$(date +%s%N)
run "$root/plugins/toolchains.sh" go 2>&1 | (! grep installing)
echo "second run: $((($(date +%s%N) - start) / 1000000)) ms, nothing installed"
