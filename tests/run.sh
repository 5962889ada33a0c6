#!/usr/bin/env bash
# The test command (see README): starts a real single-node Kafka broker
# (KRaft, jars from Maven Central, cached) and a Schema Registry (Apicurio,
# from Maven Central, cached), runs every test against them, and stops them
# again, whatever the outcome.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

export STREAMPLUG_KAFKA_DIR=${STREAMPLUG_KAFKA_DIR:-/tmp/streamplug-kafka-tests}
# TLS, SASL and mTLS listeners with ACLs too, for tests/tests/security.rs.
export STREAMPLUG_KAFKA_SECURITY=${STREAMPLUG_KAFKA_SECURITY:-1}
broker=tests/kafka/broker.sh
registry=tests/registry/registry.sh
export STREAMPLUG_REGISTRY_DIR=${STREAMPLUG_REGISTRY_DIR:-/tmp/streamplug-registry-tests}
# A fresh broker and registry each run: results never depend on an earlier
# run's topics or schemas.
$broker reset
$registry reset
trap '$registry stop; $broker stop' EXIT
$broker start
$registry start
# The Schema Registry tests (tests/tests/formats.rs) use it.
export STREAMPLUG_TEST_REGISTRY=$($registry url)
export STREAMPLUG_TEST_BROKERS=$($broker bootstrap)
if [[ $STREAMPLUG_KAFKA_SECURITY == 1 ]]; then
    export STREAMPLUG_TEST_SECURITY=$($broker security-dir)
fi

# `promtool check metrics` checks the /metrics exposition (tests/tests/admin.rs).
STREAMPLUG_PROMTOOL=$(tests/tools/promtool.sh)
export STREAMPLUG_PROMTOOL

# The integration tests drive the release binary.
cargo build --release --locked -p streamplug
cargo test --release --locked --workspace "$@" -- --skip cluster_hosts::

# The cluster tests run up to four hosts of 12 sources each: they get a
# broker of their own, without the hundreds of partitions the tests above
# left behind.
if [[ $# -eq 0 ]]; then
    $broker stop
    $broker reset
    STREAMPLUG_KAFKA_SECURITY=0 $broker start
    cargo test --release --locked -p streamplug-tests --test cluster -- cluster_hosts::
fi
