#!/usr/bin/env bash
# CPU profiles of bench cases (a), (b) and (c) at 100-byte values: flame
# graphs (SVG) and the CPU accounting per record that docs/performance.md
# shows.
#
#   tests/perf/profile.sh [RECORDS] [OUT_DIR]
#
# RECORDS defaults to 1000000, OUT_DIR to docs/profile. Needs the broker
# (tests/kafka/broker.sh start; STREAMPLUG_TEST_BROKERS set), `perf`
# (Debian: linux-perf), inferno (`cargo install inferno`), python3, and
# `cargo build --release -p streamplug -p streamplug-tests --bins`.
#
# Each case runs once under `perf record` (cpu-clock, DWARF call graphs);
# its user+system CPU comes from /usr/bin/time. account.py groups the
# samples (library, plugin code, host code, allocator, kernel) and turns
# them into microseconds per record.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
records=${1:-1000000}
out=${2:-$root/docs/profile}
brokers=${STREAMPLUG_TEST_BROKERS:?set STREAMPLUG_TEST_BROKERS (tests/kafka/broker.sh bootstrap)}
bin=$root/target/release
plugins=$root/target/wasm-plugins/wasm32-wasip2/release
for tool in perf inferno-collapse-perf inferno-flamegraph python3; do
  command -v "$tool" >/dev/null || { echo "profile.sh: $tool not found" >&2; exit 1; }
done
mkdir -p "$out"
work=$(mktemp -d)
# PROFILE_KEEP=1 keeps the perf data and folded stacks for a closer look.
[[ -n ${PROFILE_KEEP:-} ]] && echo "profile.sh: keeping $work" >&2 || trap 'rm -rf "$work"' EXIT

config() { # config NAME PIPELINE [RECORDS]
  cat <<EOF
[kafka]
brokers = "$brokers"

[[source]]
name = "datagen"
wasm = "$plugins/datagen.wasm"
topic = "profile-$1-$$"
partitions = 6
EOF
  if [[ $2 == yes ]]; then
    printf 'transforms = ["passthrough"]\npartitioner = "keyhash"\n'
  fi
  printf '[source.config]\ncount = %s\nvalue_size = 100\n' "${3:-$records}"
  if [[ $2 == yes ]]; then
    cat <<EOF

[[transform]]
name = "passthrough"
wasm = "$plugins/test_passthrough.wasm"

[[partitioner]]
name = "keyhash"
wasm = "$plugins/keyhash_partitioner.wasm"
EOF
  fi
}

profile() { # profile CASE COMMAND...
  local case=$1; shift
  echo "profile.sh: case ($case)" >&2
  /usr/bin/time -f '%U %S' -o "$work/$case.time" \
    perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 -o "$work/$case.data" -- "$@" \
    >"$work/$case.out" 2>"$work/$case.err" || { tail -20 "$work/$case.err" >&2; exit 1; }
  perf script -i "$work/$case.data" --no-inline 2>/dev/null \
    | inferno-collapse-perf --all >"$work/$case.folded"
  inferno-flamegraph --title "case ($case), $records records of 100 B" --width 1400 \
    <"$work/$case.folded" >"$out/$case.svg"
}

# (a) needs its topic with 6 partitions: one record through streamplug
# creates it.
config a no 1 >"$work/a.toml"
"$bin/streamplug" run "$work/a.toml" >/dev/null 2>&1
profile a "$bin/bench" --bare-producer "profile-a-$$" "$records" 100 6
config b no >"$work/b.toml"
profile b "$bin/streamplug" run "$work/b.toml"
config c yes >"$work/c.toml"
profile c "$bin/streamplug" run "$work/c.toml"

python3 "$here/account.py" "$records" "$work" | tee "$out/accounting.md"
echo "profile.sh: flame graphs and accounting in $out (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
