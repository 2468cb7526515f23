# Sourced by the scripts in tools/: starts a private mosquitto on a free
# loopback port and stops it (by pid) when the calling script exits.
#   [broker_tls_dir=DIR] start_private_broker [extra mosquitto.conf lines...]
# Sets $broker_port and $broker_pid. With $broker_tls_dir set (a folder with
# ca.crt, server.crt and server.key, e.g. from tools/lib/test_certs.sh) it
# also opens a TLS listener on another free loopback port: $broker_tls_port.

source "$(dirname "${BASH_SOURCE[0]}")/on_exit.sh"

broker_pid=""
broker_port=""
broker_tls_port=""
broker_tls_dir="${broker_tls_dir:-}"
broker_dir=$(mktemp -d)

stop_private_broker() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
  fi
  rm -rf "$broker_dir"
}
on_exit stop_private_broker

# True once 127.0.0.1:$1 accepts connections.
_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_private_broker() {
  local attempt port tls_port
  # mosquitto cannot take port 0: try random ports until one starts.
  for attempt in $(seq 1 20); do
    port=$(shuf -i 20000-60999 -n 1)
    tls_port=""
    {
      printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$port"
      printf '%s\n' "$@"
      if [ -n "$broker_tls_dir" ]; then
        tls_port=$(shuf -i 20000-60999 -n 1)
        printf 'listener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n' "$tls_port" \
          "$broker_tls_dir/ca.crt" "$broker_tls_dir/server.crt" "$broker_tls_dir/server.key"
      fi
    } > "$broker_dir/mosquitto.conf"
    mosquitto -c "$broker_dir/mosquitto.conf" 2> "$broker_dir/broker.log" &
    broker_pid=$!
    for _ in $(seq 1 50); do
      if _port_open "$port" && { [ -z "$tls_port" ] || _port_open "$tls_port"; }; then
        broker_port=$port
        broker_tls_port=$tls_port
        echo "mosquitto (pid $broker_pid) listening on 127.0.0.1:$port${tls_port:+, TLS on 127.0.0.1:$tls_port}" >&2
        return 0
      fi
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
  done
  echo "could not start mosquitto:" >&2
  cat "$broker_dir/broker.log" >&2
  return 1
}
