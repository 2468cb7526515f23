#!/usr/bin/env bash
# Starts a private mosquitto on a free loopback port (no in-flight or queue
# limits, so the broker throttles no client) and runs client_bench against it:
# this library next to libmosquitto and Paho in the same run.
#
#   bash tools/bench_clients.sh [--transport LIST] [client_bench arguments...]
#
# --transport: comma-separated, any of tcp (default), tls, ws, wss, or all.
#   tls  adds a TLS listener to the broker, with a throw-away CA and server
#        certificate made by the openssl CLI (tools/lib/test_certs.sh).
#   ws   our client only (libmosquitto and Paho have no WebSocket client),
#   wss  through the Node WebSocket-to-TCP bridge tests/peers/ws_peer.js in
#        front of the broker's TCP port (Debian's mosquitto has no WebSocket
#        listener): those rows include the bridge's hop, and its CPU is shown
#        in a column of its own.
# Other arguments go to client_bench (e.g. --messages 100000 --runs 7 --json).
# Besides the two scenarios against mosquitto, client_bench runs by default
# fake_publish_qos0, fake_publish_qos1 and fake_publish_qos2 against a fake broker of its own (a
# child process on 127.0.0.1:0, over TCP whatever --transport says);
# --scenario mosquitto or --scenario fake picks one kind.
set -euo pipefail
cd "$(dirname "$0")/.."

transports=tcp
args=()
while (($#)); do
  case $1 in
    --transport) transports=${2:?--transport needs a value}; shift 2 ;;
    --transport=*) transports=${1#--transport=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "$transports" = all ] && transports=tcp,tls,ws,wss
IFS=, read -r -a wanted <<< "$transports"
for t in "${wanted[@]}"; do
  case $t in
    tcp | tls | ws | wss) ;;
    *) echo "bench_clients: unknown transport '$t' (tcp, tls, ws, wss or all)" >&2; exit 2 ;;
  esac
done
want() { [[ ",$transports," == *",$1,"* ]]; }

bash tools/setup.sh
bazel build -c opt --noshow_progress //tools/client_bench
# Not the bazel-bin symlink: another build on the shared server may have
# pointed it at another configuration meanwhile.
client_bench="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/client_bench/client_bench"
source tools/lib/private_broker.sh
source tools/lib/ws_bridge.sh

certs=""
if want tls || want wss; then
  source tools/lib/test_certs.sh
  certs="$broker_dir/certs"
  make_test_certs "$certs"
fi
want tls && broker_tls_dir=$certs
start_private_broker "max_inflight_messages 0" "max_queued_messages 0"

bench=(--broker-pid "$broker_pid")
[ -n "$certs" ] && bench+=(--ca-file "$certs/ca.crt")
for t in "${wanted[@]}"; do
  case $t in
    tcp) bench+=(--url "mqtt://127.0.0.1:$broker_port") ;;
    tls) bench+=(--url "mqtts://127.0.0.1:$broker_tls_port") ;;
    ws)
      start_ws_bridge "$broker_port" "$broker_dir/ws_bridge.log"
      bench+=(--url "ws://127.0.0.1:$ws_bridge_port/mqtt" --bridge-pid "ws=$ws_bridge_pid")
      ;;
    wss)
      start_ws_bridge "$broker_port" "$broker_dir/wss_bridge.log" --cert "$certs/server.crt" --key "$certs/server.key"
      bench+=(--url "wss://127.0.0.1:$ws_bridge_port/mqtt" --bridge-pid "wss=$ws_bridge_pid")
      ;;
  esac
done
if want ws || want wss; then
  echo "note: the ws and wss rows go through the Node bridge: their msg/s include its hop;" \
    "the client column is our process alone, the bridge column the bridge's CPU" >&2
fi
"$client_bench" "${bench[@]}" "${args[@]}"
