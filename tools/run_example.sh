#!/usr/bin/env bash
# The README's run command: builds the pub/sub example, starts a private
# mosquitto on a free loopback port, runs the example against it, and stops
# the broker (by its pid) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

bazel build --noshow_progress //examples:sync_pubsub
example=bazel-bin/examples/sync_pubsub

dir=$(mktemp -d)
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# mosquitto cannot take port 0: try random ports until one starts.
for attempt in $(seq 1 20); do
  port=$(shuf -i 20000-60999 -n 1)
  printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" 2> "$dir/broker.log" &
  broker_pid=$!
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
done
if [ -z "$broker_pid" ]; then
  echo "could not start mosquitto:"; cat "$dir/broker.log"; exit 1
fi
echo "mosquitto (pid $broker_pid) listening on 127.0.0.1:$port"
"$example" 127.0.0.1 "$port"
