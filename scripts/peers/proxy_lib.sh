# Shared by capture.sh and capture_assignors.sh: the recording proxy's start/stop helpers.
# The caller defines PY, PROXY_PORT, PROXY_PIDF, PROXY_LOG, HERE and log() before calling them.

# listening socket check via /proc/net/tcp: never connects, so the proxy records nothing extra
listening() {
  local hex; hex="$(printf '%04X' "$1")"
  awk -v h=":$hex" '$2 ~ h"$" && $4 == "0A" {f=1} END {exit !f}' /proc/net/tcp
}

proxy_is_ours() { local pid="$1"; [[ -n "$pid" && -d "/proc/$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q record_proxy.py; }

start_proxy() {  # UPSTREAM_PORT DIR
  if listening "$PROXY_PORT"; then log "port $PROXY_PORT is already in use"; return 1; fi
  nohup "$PY" "$HERE/record_proxy.py" "$PROXY_PORT" "$1" "$2" 600 >"$PROXY_LOG" 2>&1 </dev/null &
  echo $! >"$PROXY_PIDF"
  for _ in $(seq 1 100); do   # at most ~5 s
    listening "$PROXY_PORT" && { log "proxy 127.0.0.1:$PROXY_PORT -> $1 (pid $(cat "$PROXY_PIDF"))"; return 0; }
    proxy_is_ours "$(cat "$PROXY_PIDF")" || break
    sleep 0.05
  done
  log "proxy failed to start"; cat "$PROXY_LOG" >&2; return 1
}

stop_proxy() {
  [[ -f "$PROXY_PIDF" ]] || return 0
  local pid; pid="$(cat "$PROXY_PIDF")"
  if proxy_is_ours "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do proxy_is_ours "$pid" || break; sleep 0.1; done
    proxy_is_ours "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PROXY_PIDF"
}

