#!/usr/bin/env bash
# The README's run command: builds the pub/sub example, starts a private
# mosquitto on a free loopback port, runs the example against it, and stops
# the broker (by its pid) whatever happens.
#   bash tools/run_example.sh          # mqtt://127.0.0.1:PORT
#   bash tools/run_example.sh --tls    # mqtts://localhost:PORT, with a throw-away CA
set -euo pipefail
cd "$(dirname "$0")/.."
tls=0
case "${1:-}" in
  "") ;;
  --tls) tls=1 ;;
  *) echo "usage: $0 [--tls]" >&2; exit 2 ;;
esac
bash tools/setup.sh
bazel build --noshow_progress //examples:sync_pubsub
source tools/lib/on_exit.sh
if ((tls)); then
  source tools/lib/test_certs.sh
  certs=$(mktemp -d)
  on_exit rm -rf "$certs"
  make_test_certs "$certs"
  broker_tls_dir=$certs
fi
source tools/lib/private_broker.sh
start_private_broker
if ((tls)); then
  # The URL form of the example's command line; the certificate is checked
  # against the name "localhost".
  bazel-bin/examples/sync_pubsub "mqtts://localhost:$broker_tls_port" "$certs/ca.crt"
else
  bazel-bin/examples/sync_pubsub 127.0.0.1 "$broker_port"
fi
