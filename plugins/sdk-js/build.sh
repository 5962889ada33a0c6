#!/usr/bin/env bash
# Builds a JavaScript plugin: plugins/sdk-js/build.sh WORLD OUT.wasm APP.js
# APP.js imports the SDK as 'streamplug' and exports its world's functions.
# Installs componentize-js first if needed (plugins/toolchains.sh js), bundles
# the app with the SDK (rolldown, which componentize-js brings) and prints the
# component's path last.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -ne 3 ]; then
    echo "usage: $0 source|transform|partitioner OUT.wasm APP.js" >&2
    exit 2
fi
world="$1" out="$2" app="$3"
eval "$("$root/plugins/toolchains.sh" js --print-env)"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work="$(mktemp -d "${TMPDIR:-/tmp}/streamplug-js-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The app's folder as it is, with the SDK where `import 'streamplug'` finds it.
cp -r "$(dirname "$app")/." "$work/"
mkdir -p "$work/node_modules"
ln -sfn "$here" "$work/node_modules/streamplug"
(cd "$work" && "$STREAMPLUG_JS_BIN/rolldown" "$(basename "$app")" --file bundle.js --format esm \
    --external 'streamplug:plugin/log@0.2.0,streamplug:plugin/schema-registry@0.2.0' >/dev/null)
# Without `-d http fetch-event` the component imports wasi:http, which the host does not provide.
"$STREAMPLUG_JS_BIN/componentize-js" "$work/bundle.js" -w "$root/wit" -n "$world" \
    -d http fetch-event -o "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "$out"
