#!/usr/bin/env bash
# Runs the Go SDK's unit tests: natively (encoding against wit/ENCODING.md's
# example and the shared vectors of wit/test-vectors; config access), then
# all of them again as wasip1 modules in wazero, which adds the tests of the
# canonical ABI glue that exists only there (cabi_realloc, lifting the
# host's arguments, the return areas of each world, collecting between
# calls); and checks that the world packages and examples build for wasip1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
eval "$("$here/../toolchains.sh" go-test --print-env)"
cd "$here"
"$STREAMPLUG_GO" test ./...
# The go command's own wasip1 runner, told to use wazero.
PATH="$(dirname "$STREAMPLUG_WAZERO"):$PATH" GOWASIRUNTIME=wazero GOOS=wasip1 GOARCH=wasm \
    "$STREAMPLUG_GO" test -exec "$("$STREAMPLUG_GO" env GOROOT)/lib/wasm/go_wasip1_wasm_exec" ./...
GOOS=wasip1 GOARCH=wasm "$STREAMPLUG_GO" vet ./...
