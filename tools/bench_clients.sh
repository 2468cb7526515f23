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
# --broker-nagle: leave mosquitto's set_tcp_nodelay at its default (false).
#   By default the script sets it: with Nagle on the broker's side, a QoS 0
#   message sent back to a client that has not yet acknowledged the previous
#   one waits for the client's delayed ACK, which rides on its next publish,
#   so open-loop round trips would measure the send interval (seen: p50
#   ~1.1 ms at 1,000 msg/s for every client), not the clients.
# CLIENT_BENCH=/path/to/client_bench: use that binary instead of building one
#   (e.g. built with its own --output_base while the shared server is busy).
# Other arguments go to client_bench (`client_bench --help` lists them all;
# e.g. --messages 100000 --runs 7 --payload 64,1024 --syscalls --json, or
# --callgrind). By default client_bench runs every scenario: qos0/1/2_publish
# and qos0_echo through mosquitto, the round trips rtt_closed, rtt_open_1k and
# rtt_open_10k (with ours-spin, our client with SpinThenBlock, as a fourth
# client), and fake_publish_qos0/1/2 against a fake broker of its own (a child
# process on 127.0.0.1:0, over TCP whatever --transport says); --scenario
# mosquitto, latency or fake picks one kind.
set -euo pipefail
cd "$(dirname "$0")/.."

transports=tcp
nodelay=true
args=()
while (($#)); do
  case $1 in
    --transport) transports=${2:?--transport needs a value}; shift 2 ;;
    --transport=*) transports=${1#--transport=}; shift ;;
    --broker-nagle) nodelay=false; shift ;;
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
if [ -n "${CLIENT_BENCH:-}" ]; then
  # A client_bench built elsewhere (e.g. with its own --output_base while the
  # shared Bazel server is busy): CLIENT_BENCH=/path/to/client_bench.
  client_bench=$CLIENT_BENCH
else
  bazel build -c opt --noshow_progress //tools/client_bench
  # Not the bazel-bin symlink: another build on the shared server may have
  # pointed it at another configuration meanwhile.
  client_bench="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/client_bench/client_bench"
fi
source tools/lib/private_broker.sh
source tools/lib/ws_bridge.sh

certs=""
if want tls || want wss; then
  source tools/lib/test_certs.sh
  certs="$broker_dir/certs"
  make_test_certs "$certs"
fi
want tls && broker_tls_dir=$certs
start_private_broker "max_inflight_messages 0" "max_queued_messages 0" "set_tcp_nodelay $nodelay"

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
