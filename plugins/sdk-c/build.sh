#!/usr/bin/env bash
# Builds a C plugin: plugins/sdk-c/build.sh WORLD OUT.wasm FILE.c... [-- CFLAGS...]
# WORLD is source, transform or partitioner. Installs the toolchain first if
# needed (plugins/toolchains.sh c), and prints the component's path last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -lt 3 ]; then
    echo "usage: $0 source|transform|partitioner OUT.wasm FILE.c... [-- CFLAGS...]" >&2
    exit 2
fi
world="$1"
out="$2"
shift 2
case "$world" in
    source|transform|partitioner) ;;
    *) echo "build.sh: unknown world \`$world\` (source, transform or partitioner)" >&2; exit 2 ;;
esac
files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do files+=("$1"); shift; done
[ $# -gt 0 ] && shift
cflags=("$@")

eval "$("$root/plugins/toolchains.sh" c --print-env)"

core="$(mktemp "${TMPDIR:-/tmp}/streamplug-c-XXXXXX.core.wasm")"
trap 'rm -f "$core"' EXIT
# -mexec-model=reactor: a library the host calls into, with no main.
"$STREAMPLUG_CLANG" --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor \
    -std=c11 -O2 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$here/include" \
    "$here/src/codec.c" "$here/src/config.c" "$here/src/abi.c" "$here/src/world_$world.c" \
    "${files[@]}" ${cflags[@]+"${cflags[@]}"} -Wl,--strip-debug -o "$core"
mkdir -p "$(dirname "$out")"
"$STREAMPLUG_GUEST_TOOLS" componentize --wit "$root/wit" --world "$world" "$core" -o "$out"
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
