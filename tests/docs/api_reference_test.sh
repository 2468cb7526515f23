#!/usr/bin/env bash
# Runs doxygen over the public headers with docs/Doxyfile and fails on any
# warning: every public entity must be documented (WARN_IF_UNDOCUMENTED), and
# comment markup errors count too (WARN_AS_ERROR). Doxygen is a required tool
# (tools/setup.sh installs it): missing is a failure, not a skip.
set -euo pipefail

doxygen=/usr/bin/doxygen
if [ ! -x "$doxygen" ]; then
  echo "FAIL: $doxygen not found; install it with: bash tools/setup.sh (apt-get install doxygen)" >&2
  exit 1
fi

# The data files sit at their repository paths in the runfiles tree, so the
# Doxyfile's relative INPUT paths resolve from the workspace root.
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}"
out="${TEST_TMPDIR:-$(mktemp -d)}/api"
mkdir -p "$out"
log="$out/warnings.log"

# Same configuration, with the output moved out of the read-only runfiles and
# every warning reported (FAIL_ON_WARNINGS lists them all, then fails).
status=0
{ cat docs/Doxyfile
  echo "OUTPUT_DIRECTORY = $out"
  echo "WARN_IF_UNDOCUMENTED = YES"
  echo "WARN_AS_ERROR = FAIL_ON_WARNINGS"
  echo "WARN_LOGFILE = $log"; } | timeout 60 "$doxygen" - || status=$?
if [ "$status" -ne 0 ] && [ ! -s "$log" ]; then
  echo "FAIL: doxygen exited with status $status" >&2
  exit 1
fi
if [ -s "$log" ]; then
  cat "$log" >&2
  echo "FAIL: $(wc -l <"$log") doxygen warning(s): document the entities above" >&2
  exit 1
fi
if [ ! -s "$out/html/index.html" ]; then
  echo "FAIL: doxygen wrote no $out/html/index.html" >&2
  exit 1
fi
echo "PASS: the public headers are fully documented"
