#!/usr/bin/env bash
# The README's run command: builds the pub/sub example, starts a private
# mosquitto on a free loopback port, runs the example against it, and stops
# the broker (by its pid) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel build --noshow_progress //examples:sync_pubsub
source tools/lib/private_broker.sh
start_private_broker
bazel-bin/examples/sync_pubsub 127.0.0.1 "$broker_port"
