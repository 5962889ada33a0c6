#!/usr/bin/env bash
# Builds a Python plugin: plugins/sdk-python/build.sh WORLD OUT.wasm APP.py
# WORLD is source, transform or partitioner; APP.py defines `WitWorld`
# (streamplug.source_world(...) etc.). Installs componentize-py first if
# needed (plugins/toolchains.sh python), and prints the component's path last.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -ne 3 ]; then
    echo "usage: $0 source|transform|partitioner OUT.wasm APP.py" >&2
    exit 2
fi
world="$1" out="$2" app="$3"
eval "$("$root/plugins/toolchains.sh" python --print-env)"
# componentize-py imports the app: no __pycache__ left in the source tree.
export PYTHONDONTWRITEBYTECODE=1
app_dir="$(cd "$(dirname "$app")" && pwd)"
module="$(basename "$app" .py)"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
# -p: where the app and the SDK are found (componentize-py bundles them).
"$STREAMPLUG_COMPONENTIZE_PY" -q -d "$root/wit" -w "$world" componentize \
    -p "$app_dir" -p "$here" "$module" -o "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "$out"
