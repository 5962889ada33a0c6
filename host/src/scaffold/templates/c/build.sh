#!/usr/bin/env bash
# Builds this plugin as a WebAssembly component with the streamplug C SDK of
# __REPO__ (which installs its toolchain on first use). The last line printed
# is the path of the built .wasm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
"__REPO__/plugins/sdk-c/build.sh" __KIND__ "target/__NAME__.wasm" plugin.c | tail -n1
