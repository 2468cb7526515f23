# Sourced by the scripts in tools/: starts a private mosquitto on a free
# loopback port and stops it (by pid) when the calling script exits.
#   start_private_broker [extra mosquitto.conf lines...]
# Sets $broker_port and $broker_pid.

broker_pid=""
broker_port=""
broker_dir=$(mktemp -d)

stop_private_broker() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
  fi
  rm -rf "$broker_dir"
}
trap stop_private_broker EXIT

start_private_broker() {
  local attempt port
  # mosquitto cannot take port 0: try random ports until one starts.
  for attempt in $(seq 1 20); do
    port=$(shuf -i 20000-60999 -n 1)
    {
      printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$port"
      printf '%s\n' "$@"
    } > "$broker_dir/mosquitto.conf"
    mosquitto -c "$broker_dir/mosquitto.conf" 2> "$broker_dir/broker.log" &
    broker_pid=$!
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        broker_port=$port
        echo "mosquitto (pid $broker_pid) listening on 127.0.0.1:$port"
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
