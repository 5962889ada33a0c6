#!/usr/bin/env bash
# Runs the C SDK's unit tests natively (encoding against wit/ENCODING.md's
# example and the shared vectors of wit/test-vectors; config access).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${TMPDIR:-/tmp}/streamplug-sdk-c-unit-$$"
trap 'rm -f "$out"' EXIT
cc="${CC:-cc}"
"$cc" -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined \
    -I"$here/include" "$here/src/codec.c" "$here/src/config.c" "$here/tests/unit.c" -lm -o "$out"
"$out" "$root/wit/test-vectors"
