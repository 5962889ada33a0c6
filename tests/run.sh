#!/usr/bin/env bash
# The test command (see README): starts a real single-node Kafka broker
# (KRaft, jars from Maven Central, cached), runs every test against it, and
# stops it again, whatever the outcome.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

export STREAMPLUG_KAFKA_DIR=${STREAMPLUG_KAFKA_DIR:-/tmp/streamplug-kafka-tests}
broker=tests/kafka/broker.sh
# A fresh broker each run: results never depend on an earlier run's topics.
$broker reset
trap '$broker stop' EXIT
$broker start
export STREAMPLUG_TEST_BROKERS=$($broker bootstrap)

# The integration tests drive the release binary.
cargo build --release --locked -p streamplug
cargo test --release --locked --workspace "$@"
