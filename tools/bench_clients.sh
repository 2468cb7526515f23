#!/usr/bin/env bash
# Starts a private mosquitto on a free loopback port (no in-flight or queue
# limits, so the broker throttles no client) and runs client_bench against it:
# this library next to libmosquitto and Paho in the same run. Arguments go to
# client_bench (e.g. --messages 100000 --runs 7 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel build -c opt --noshow_progress //tools/client_bench
source tools/lib/private_broker.sh
start_private_broker "max_inflight_messages 0" "max_queued_messages 0"
bazel-bin/tools/client_bench/client_bench --port "$broker_port" "$@"
