#!/usr/bin/env bash
# Runs a fuzzer (the decoder's, or the session's) for a bounded time
# (FUZZ_SECONDS, default 60) on a copy of its seed corpus (the directory
# under tests/fuzz named by the second argument, default corpus); fails if
# the fuzzer finds a crash, a sanitizer report or a failed check (they all
# make libFuzzer exit non-zero).
set -euo pipefail

fuzzer=$1
corpus_name=${2:-corpus}
name=$(basename "$fuzzer")
seconds=${FUZZ_SECONDS:-60}
case $seconds in
  '' | *[!0-9]*) echo "FUZZ_SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

# Runfiles: the test runs from the workspace root of its runfiles tree.
seed_dir=tests/fuzz/$corpus_name
if [ ! -d "$seed_dir" ]; then
  seed_dir="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-mqtt}/tests/fuzz/$corpus_name"
fi
tmp=${TEST_TMPDIR:-$(mktemp -d)}
corpus="$tmp/corpus"
artifacts="$tmp/artifacts"
mkdir -p "$corpus" "$artifacts"
cp "$seed_dir"/* "$corpus"/
chmod u+w "$corpus"/*
echo "$name: $(ls "$corpus" | wc -l) seed inputs, ${seconds}s"

# Crash reproducers go to the test's undeclared outputs when Bazel provides them.
if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]; then
  artifacts=$TEST_UNDECLARED_OUTPUTS_DIR
fi

rc=0
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus" || rc=$?

if [ "$rc" -ne 0 ]; then
  echo "$name FAILED (exit $rc); reproducers:" >&2
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
    [ -e "$f" ] || continue
    echo "  $f: $(od -An -tx1 -v "$f" | tr -d ' \n')" >&2
  done
  exit 1
fi
echo "$name: no crash in ${seconds}s, corpus now $(ls "$corpus" | wc -l) inputs"
