#!/usr/bin/env bash
# Runs the Python SDK's unit tests natively (no component needed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 -B "$here/tests/test_sdk.py" -v
