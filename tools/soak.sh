#!/usr/bin/env bash
# Soak run: builds tools/soak (-c opt) and runs it. The tool starts its own
# mosquitto (persistence on, a free loopback port) and a socat relay in front
# of it, runs the mixed load with seeded random faults for --duration, prints
# a line per --interval and, at the end, a table and the verdict (exit code 1
# when a criterion fails). See docs/soak.md.
#
#   bash tools/soak.sh [soak arguments...]
#   e.g. bash tools/soak.sh --duration 30m --seed 1
#        bash tools/soak.sh --duration 3m --json > soak.jsonl
#
# SOAK=/path/to/soak runs that binary instead (e.g. one built earlier, so that
# no build competes with the run for the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
tool=${SOAK:-}
if [ -z "$tool" ]; then
  bazel build -c opt --noshow_progress //tools/soak
  # Not the bazel-bin symlink: another build on the shared server may have
  # pointed it at another configuration meanwhile.
  tool="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/soak/soak"
fi
exec "$tool" "$@"
