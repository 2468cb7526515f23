#!/usr/bin/env bash
# Runs every test: the Bazel test suite under gcc, ASan, UBSan and TSan, the
# decoder fuzzer for a bounded time, and the consumer workspace build.
# Ends with one line "N passed, N failed" summed over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash tools/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

# A disk cache outside the clone lets later runs on the same machine reuse
# build work; test results are never taken from it: every test really runs.
cache=/var/tmp/mqtt-bazel-disk-cache
common=(--disk_cache="$cache" --nocache_test_results --keep_going --test_output=errors)
fuzz_seconds=${FUZZ_SECONDS:-60}

passed=0
failed=0
logdir=$(mktemp -d)

# Counts the per-target result lines of `bazel test`; a broken build or a run
# that reports nothing counts as a failure.
run_bazel_tests() {
  local name=$1
  shift
  local log="$logdir/$name.log"
  echo "=== $name: bazel test $*"
  bazel test "${common[@]}" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
  f=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|FLAKY)' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "=== $name: $p passed, $f failed (bazel exit $rc)"
  passed=$((passed + p))
  failed=$((failed + f))
}

run_bazel_tests gcc //...
run_bazel_tests asan --config=asan //...
run_bazel_tests ubsan --config=ubsan //...
run_bazel_tests tsan --config=tsan --test_tag_filters=-no_tsan //...
run_bazel_tests fuzz --config=fuzz --test_env=FUZZ_SECONDS="$fuzz_seconds" \
  --test_timeout=$((fuzz_seconds + 240)) //tests/fuzz:decoder_fuzz_test //tests/fuzz:session_fuzz_test

# A separate workspace that takes this one as a dependency, as a monorepo would.
echo "=== consumer: build and run tests/consumer"
if (cd tests/consumer && bazel build --disk_cache="$cache" //:app && ./bazel-bin/app); then
  passed=$((passed + 1))
else
  echo "consumer workspace FAILED"
  failed=$((failed + 1))
fi
(cd tests/consumer && bazel shutdown) >/dev/null 2>&1
(cd "$root" && bazel shutdown) >/dev/null 2>&1
rm -rf "$logdir"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
