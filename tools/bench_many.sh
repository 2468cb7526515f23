#!/usr/bin/env bash
# Many connections: starts a private mosquitto on a free loopback port with a
# raised open-file limit and runs tools/many_conns against it (built -c opt).
#
#   bash tools/bench_many.sh [many_conns arguments...]
#   e.g. bash tools/bench_many.sh --connections 10000 --reactors 1
#        bash tools/bench_many.sh --connections 10000 --reactors 4 --json
#
# Each client uses one descriptor (its socket), two when the tool reads its
# events through event_fd() (the default while the open-file limit allows
# it; --sweep reads them with try_next() instead), and the broker one per
# client: this script raises its own soft and hard limit
# (root may raise the hard one) to what --connections needs before starting
# the broker and the tool, which raises its own soft limit again
# (setrlimit). Everything is bounded: the tool by --timeout (default 120 s),
# this script by `timeout` around the tool; the broker is stopped by pid on
# exit.
set -euo pipefail
cd "$(dirname "$0")/.."

connections=10000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --connections) connections=${args[i + 1]:-10000} ;;
  esac
done
want_fds=$((2 * connections + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  ulimit -Hn "$want_fds" 2>/dev/null || echo "bench_many: cannot raise the hard open-file limit to $want_fds (not root?)" >&2
fi
ulimit -Sn "$(ulimit -Hn)"
echo "bench_many: open-file limit $(ulimit -Sn) (hard $(ulimit -Hn))" >&2

# MANY_CONNS=/path/to/many_conns runs that binary instead (e.g. a copy built
# before a change, for a comparison in the same conditions).
tool=${MANY_CONNS:-}
if [ -z "$tool" ]; then
  bazel build -c opt --noshow_progress //tools/many_conns
  # Not the bazel-bin symlink: another build on the shared server may have
  # pointed it at another configuration meanwhile.
  tool="$(bazel info -c opt bazel-bin 2>/dev/null)/tools/many_conns/many_conns"
fi
source tools/lib/private_broker.sh
# max_connections -1: no limit (mosquitto's default, stated); the queue
# limits do not matter for one message per client.
start_private_broker "max_connections -1"
echo "bench_many: mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), pid $broker_pid," \
  "open-file limit $(awk '/Max open files/ {print $4}' "/proc/$broker_pid/limits")" >&2
timeout -k 5 900 "$tool" --port "$broker_port" --broker-pid "$broker_pid" "$@"
