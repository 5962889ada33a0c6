#!/usr/bin/env bash
# A cached Python venv with the independent decoders the format tests use
# (tests/registry/requirements.txt, from PyPI). Prints its python.
#
# Environment: STREAMPLUG_CACHE  cache root (~/.cache/streamplug)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req=$here/requirements.txt
# The venv is named by the requirements' hash: editing them makes a new one.
hash=$(sha256sum "$req" | cut -c1-12)
venv=${STREAMPLUG_CACHE:-$HOME/.cache/streamplug}/pyenv-$hash
if [[ ! -f $venv/ready ]]; then
  command -v python3 >/dev/null || { echo "pyenv.sh: python3 not found" >&2; exit 1; }
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/ready"
fi
echo "$venv/bin/python"
