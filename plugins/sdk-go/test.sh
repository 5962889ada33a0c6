#!/usr/bin/env bash
# Runs the Go SDK's unit tests natively (encoding against wit/ENCODING.md's
# example and the shared vectors of wit/test-vectors; config access), and
# checks that the world packages and examples build for wasip1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
eval "$("$here/../toolchains.sh" go --print-env)"
cd "$here"
"$STREAMPLUG_GO" test ./...
GOOS=wasip1 GOARCH=wasm "$STREAMPLUG_GO" vet ./...
