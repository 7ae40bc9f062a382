#!/usr/bin/env bash
# Consume throughput: one of our members (kafka-std, release build) against one librdkafka
# member (confluent-kafka 2.16.1) on a pre-filled topic, same broker, same run.
#
#   scripts/bench-consume.sh [COUNT] [RUNS]      (defaults 1000000 messages, 2 runs)
#
# Starts Tansu on 127.0.0.1:19492 (scripts/peers/tansu.sh), fills topic bench-consume
# (4 partitions) with COUNT small keyed messages (k<i>/v<i>), then alternates: ours, then
# librdkafka, each in a fresh group from the earliest offset. Prints one JSON line per run.
# Stops the broker at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
runs="${2:-2}"
port=19492
PY="${PYTHON:-python3}"
scripts/peers/ensure_peers.sh >/dev/null
cargo build -q --release -p kafka-std --example bench_consume
scripts/peers/tansu.sh start "$port" >/dev/null
trap 'scripts/peers/tansu.sh stop "$port" >/dev/null 2>&1 || true' EXIT
scripts/peers/tansu.sh topic "$port" bench-consume 4 >/dev/null
"$PY" scripts/peers/bench_consume.py produce "127.0.0.1:$port" bench-consume "$count"
for r in $(seq 1 "$runs"); do
  timeout -k 5 180 target/release/examples/bench_consume "127.0.0.1:$port" "ours-$r-$$" bench-consume "$count" 150
  timeout -k 5 180 "$PY" scripts/peers/bench_consume.py consume "127.0.0.1:$port" "ck-$r-$$" bench-consume "$count"
done
