#!/usr/bin/env bash
# librdkafka's built-in mock cluster as a standalone process (mock_cluster.py, ctypes).
#
#   mock.sh start  NAME [BROKERS]   NAME = 2.0  -> Debian librdkafka1 2.0.2 (apt: kcat/librdkafka1)
#                                    NAME = 2.16 -> librdkafka bundled in PyPI confluent-kafka
#                                    (a suffix like 2.16-fast runs a second instance of the same lib)
#   mock.sh stop   NAME
#   mock.sh status NAME
#   mock.sh bootstrap NAME          print bootstrap.servers (127.0.0.1:<ephemeral>,...)
#
# Ports are EPHEMERAL (librdkafka cannot bind a chosen port); read them from
# /tmp/peers-mock-NAME.bootstrap. The mock has no CreateTopics: topics are
# pre-created from $MOCK_TOPICS ("name:partitions ..."); unknown topics are
# auto-created on Metadata with 4 partitions.
# Env: MOCK_TOPICS, MOCK_REBALANCE_DELAY_MS (2.16 only; mock default 3000),
#      MOCK_CONSUMER_HEARTBEAT_MS / MOCK_CONSUMER_SESSION_MS (KIP-848, 2.16 only; defaults 3000 / 30000),
#      MOCK_MAX_SECONDS (self-stop, default 3600), MOCK_DEBUG (e.g. "mock"),
#      MOCK_ADVERTISE=HOST:PORT (broker 1 advertises this address, e.g. a recording proxy;
#      the bootstrap file still holds the mock's real port).
# Files: /tmp/peers-mock-NAME.{pid,bootstrap,log}
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-}"; NAME="${2:-2.16}"; BROKERS="${3:-1}"
PIDF="/tmp/peers-mock-${NAME}.pid"; BOOTF="/tmp/peers-mock-${NAME}.bootstrap"; LOGF="/tmp/peers-mock-${NAME}.log"
PY="${PYTHON:-python3}"
CK_VERSION="${CK_VERSION:-2.16.1}"
DEFAULT_TOPICS="hol-topic:1 smoke1:6 smoke2:6 smoke3:6 smoke4:6 smoke5:6 smoke6:6 smoke7:6 smoke8:6"

case "$NAME" in
  2.0|2.0-*)  LIB=system ;;
  2.16|2.16-*) LIB=confluent ;;
  *)    LIB="$NAME" ;;   # explicit path to a librdkafka.so.1
esac

ensure_deps() {
  if [[ "$LIB" == system ]] && [[ ! -e /usr/lib/x86_64-linux-gnu/librdkafka.so.1 ]]; then
    echo "installing kcat + librdkafka1 (apt) ..." >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2
  fi
  if ! "$PY" -c 'import confluent_kafka' 2>/dev/null; then
    echo "installing confluent-kafka==${CK_VERSION} (PyPI) ..." >&2
    "$PY" -m pip install -q "confluent-kafka==${CK_VERSION}" >&2
  fi
}

is_ours() { local pid="$1"; [[ -n "$pid" && -d "/proc/$pid" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q mock_cluster.py; }

case "$cmd" in
  start)
    if [[ -f "$PIDF" ]] && is_ours "$(cat "$PIDF")" && [[ -s "$BOOTF" ]]; then
      echo "mock $NAME already running (pid $(cat "$PIDF")): $(cat "$BOOTF")"; exit 0
    fi
    ensure_deps
    rm -f "$BOOTF"
    targs=(); for t in ${MOCK_TOPICS:-$DEFAULT_TOPICS}; do targs+=(--topic "$t"); done
    extra=()
    [[ -n "${MOCK_REBALANCE_DELAY_MS:-}" ]] && extra+=(--rebalance-delay-ms "$MOCK_REBALANCE_DELAY_MS")
    [[ -n "${MOCK_DEBUG:-}" ]] && extra+=(--debug "$MOCK_DEBUG")
    [[ -n "${MOCK_ADVERTISE:-}" ]] && extra+=(--advertise "$MOCK_ADVERTISE")
    [[ -n "${MOCK_CONSUMER_HEARTBEAT_MS:-}" ]] && extra+=(--consumer-heartbeat-ms "$MOCK_CONSUMER_HEARTBEAT_MS")
    [[ -n "${MOCK_CONSUMER_SESSION_MS:-}" ]] && extra+=(--consumer-session-ms "$MOCK_CONSUMER_SESSION_MS")
    t0=$(date +%s%N)
    nohup "$PY" "$HERE/mock_cluster.py" --lib "$LIB" --brokers "$BROKERS" "${targs[@]}" "${extra[@]}" \
      --bootstrap-file "$BOOTF" --max-seconds "${MOCK_MAX_SECONDS:-3600}" >"$LOGF" 2>&1 </dev/null &
    echo $! >"$PIDF"
    for _ in $(seq 1 200); do   # at most ~10 s
      if [[ -s "$BOOTF" ]]; then
        first="$(cut -d, -f1 "$BOOTF")"
        if (exec 3<>"/dev/tcp/${first%:*}/${first##*:}") 2>/dev/null; then
          echo "mock $NAME up in $(( ($(date +%s%N)-t0)/1000000 )) ms (pid $(cat "$PIDF")): $(cat "$BOOTF")"; exit 0
        fi
      fi
      [[ -d "/proc/$(cat "$PIDF")" ]] || break   # alive (it may not have exec'd into mock_cluster.py yet)
      sleep 0.05
    done
    echo "mock failed to start; log:" >&2; cat "$LOGF" >&2; exit 1 ;;
  stop)
    [[ -f "$PIDF" ]] || { echo "not running (no $PIDF)"; exit 0; }
    pid="$(cat "$PIDF")"
    if is_ours "$pid"; then
      kill "$pid" 2>/dev/null || true     # SIGTERM -> mock_cluster.py destroys the cluster
      for _ in $(seq 1 50); do is_ours "$pid" || break; sleep 0.1; done
      if is_ours "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$PIDF" "$BOOTF"; echo "mock $NAME stopped" ;;
  status)
    if [[ -f "$PIDF" ]] && is_ours "$(cat "$PIDF")"; then echo "running pid $(cat "$PIDF"): $(cat "$BOOTF" 2>/dev/null)"; else echo "not running"; exit 1; fi ;;
  bootstrap) cat "$BOOTF" ;;
  *) echo "usage: $0 start|stop|status|bootstrap NAME(2.0|2.16|/path/librdkafka.so.1) [BROKERS]" >&2; exit 2 ;;
esac
