#!/usr/bin/env bash
# Builds this plugin as a WebAssembly component with the streamplug Go SDK of
# __REPO__ (Go 1.24 or later). The last line printed is the path of the built .wasm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
"__REPO__/plugins/sdk-go/build.sh" __KIND__ "target/__NAME__.wasm" . | tail -n1
