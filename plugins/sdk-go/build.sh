#!/usr/bin/env bash
# Builds a Go plugin: plugins/sdk-go/build.sh WORLD OUT.wasm PACKAGE [-- GOFLAGS...]
# WORLD is source, transform or partitioner; PACKAGE is the plugin's main
# package (its folder, or a .go file in it), in a module that requires
# streamplug.dev/sdk-go. Checks the toolchain first (plugins/toolchains.sh
# go), and prints the component's path last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -lt 3 ]; then
    echo "usage: $0 source|transform|partitioner OUT.wasm PACKAGE [-- GOFLAGS...]" >&2
    exit 2
fi
world="$1"
out="$2"
pkg="$3"
shift 3
case "$world" in
    source|transform|partitioner) ;;
    *) echo "build.sh: unknown world \`$world\` (source, transform or partitioner)" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
[ -f "$pkg" ] && pkg="$(dirname "$pkg")"

eval "$("$root/plugins/toolchains.sh" go --print-env)"

core="$(mktemp "${TMPDIR:-/tmp}/streamplug-go-XXXXXX.core.wasm")"
trap 'rm -f "$core"' EXIT
# c-shared: a reactor (_initialize starts the runtime; no main is run).
# -s -w: no symbol table or DWARF (a third of the size).
(cd "$pkg" && GOOS=wasip1 GOARCH=wasm "$STREAMPLUG_GO" build -buildmode=c-shared \
    -ldflags='-s -w' -trimpath "$@" -o "$core" .)
mkdir -p "$(dirname "$out")"
"$STREAMPLUG_GUEST_TOOLS" componentize --wit "$root/wit" --world "$world" "$core" -o "$out"
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
