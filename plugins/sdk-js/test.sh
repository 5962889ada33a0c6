#!/usr/bin/env bash
# Runs the JavaScript SDK's unit tests natively with node (no component needed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec node "$here/tests/unit.mjs"
