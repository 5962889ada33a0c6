#!/usr/bin/env bash
# Prints the path of `promtool` (Prometheus's checker, an independent parser
# of the metrics exposition), fetching it first if needed: the Debian package
# `prometheus` is downloaded (not installed: no server, no service) and only
# its promtool is kept, under ~/.cache/streamplug.
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/streamplug/promtool
if command -v promtool >/dev/null; then
  command -v promtool
  exit 0
fi
if [[ ! -x $cache/promtool ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (
    cd "$tmp"
    apt-get download prometheus >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; } ||
      { echo "promtool: cannot download the Debian package prometheus" >&2; exit 1; }
    dpkg-deb -x prometheus_*.deb root
  )
  mkdir -p "$cache"
  cp "$tmp/root/usr/bin/promtool" "$cache/promtool.tmp"
  mv "$cache/promtool.tmp" "$cache/promtool"
fi
echo "$cache/promtool"
