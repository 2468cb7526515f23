# Sourced by the scripts in tools/: starts the WebSocket-to-TCP bridge
# (tests/peers/ws_peer.js in bridge mode, Node) on a free loopback port in
# front of a broker's TCP port, and stops it (by pid) when the script exits.
# Its npm packages come from `bash tools/setup.sh` (npm ci in tests/).
#   start_ws_bridge TARGET_PORT LOG [ws_peer.js options, e.g. --cert F --key F]
# Sets $ws_bridge_port and $ws_bridge_pid (path /mqtt, subprotocol mqtt).

source "$(dirname "${BASH_SOURCE[0]}")/on_exit.sh"

_ws_bridge_pids=()

stop_ws_bridges() {
  local pid
  for pid in "${_ws_bridge_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  _ws_bridge_pids=()
}
on_exit stop_ws_bridges

start_ws_bridge() {
  local target=$1 log=$2
  shift 2
  local script
  script="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers" && pwd)/ws_peer.js"
  # --port 0: the bridge picks a free port and prints "ready PORT".
  node "$script" --mode bridge --port 0 --target-port "$target" "$@" > "$log" 2>&1 &
  ws_bridge_pid=$!
  _ws_bridge_pids+=("$ws_bridge_pid")
  ws_bridge_port=""
  for _ in $(seq 1 100); do
    ws_bridge_port=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$log")
    if [ -n "$ws_bridge_port" ]; then
      echo "WebSocket bridge (node, pid $ws_bridge_pid) on 127.0.0.1:$ws_bridge_port -> 127.0.0.1:$target" >&2
      return 0
    fi
    kill -0 "$ws_bridge_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "could not start the WebSocket bridge:" >&2
  cat "$log" >&2
  return 1
}
