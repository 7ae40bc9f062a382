#!/usr/bin/env bash
# Consume throughput: one of our members (kafka-std, release build) against one librdkafka
# member on a pre-filled topic, same broker, same run. librdkafka runs twice: through
# confluent-kafka 2.16.1's batch call (Python), and as the C program
# scripts/peers/rdkafka_consume.c linked to the same librdkafka 2.16 (the wheel's), its own
# loop without Python's per-message cost.
#
#   scripts/bench-consume.sh [COUNT] [RUNS]      (defaults 1000000 messages, 2 runs)
#
# Starts Tansu on 127.0.0.1:19492 (scripts/peers/tansu.sh), fills topic bench-consume
# (4 partitions) with COUNT small keyed messages (k<i>/v<i>), then alternates: ours, then
# librdkafka (Python), then librdkafka (C), each in a fresh group from the earliest offset.
# Prints one JSON line per run. The C build needs gcc and Debian's librdkafka-dev (for the
# header; installed with apt-get when missing).
# Stops the broker at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
runs="${2:-2}"
port=19492
PY="${PYTHON:-python3}"
scripts/peers/ensure_peers.sh >/dev/null
cargo build -q --release -p kafka-std --example bench_consume
if [ ! -f /usr/include/librdkafka/rdkafka.h ]; then
  apt-get install -y -q librdkafka-dev >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q librdkafka-dev >/dev/null; }
fi
# The wheel's librdkafka, found as the mock cluster finds it.
so="$("$PY" -c 'import sys; sys.path.insert(0, "scripts/peers"); import mock_cluster; print(mock_cluster.find_lib("confluent"))')"
mkdir -p target/peers
gcc -O2 -Wall -Wextra -o target/peers/rdkafka_consume scripts/peers/rdkafka_consume.c \
  -L"$(dirname "$so")" -l:"$(basename "$so")" -Wl,-rpath,"$(dirname "$so")"
scripts/peers/tansu.sh start "$port" >/dev/null
trap 'scripts/peers/tansu.sh stop "$port" >/dev/null 2>&1 || true' EXIT
scripts/peers/tansu.sh topic "$port" bench-consume 4 >/dev/null
"$PY" scripts/peers/bench_consume.py produce "127.0.0.1:$port" bench-consume "$count"
for r in $(seq 1 "$runs"); do
  timeout -k 5 180 target/release/examples/bench_consume "127.0.0.1:$port" "ours-$r-$$" bench-consume "$count" 150
  timeout -k 5 180 "$PY" scripts/peers/bench_consume.py consume "127.0.0.1:$port" "ck-$r-$$" bench-consume "$count"
  timeout -k 5 180 target/peers/rdkafka_consume "127.0.0.1:$port" "rdk-$r-$$" bench-consume "$count"
done
