# Sourced by the tests in tests/tools: counting checks that report what the
# command printed. The caller's run() sets $out, $err and $rc.
#   fail MESSAGE; expect_rc CODE NAME; expect_re REGEX NAME; finish NAME
failures=0
out=""
err=""
rc=0

fail() {
  echo "FAIL: $*" >&2
  echo "--- stdout (exit $rc):" >&2
  echo "$out" >&2
  echo "--- stderr:" >&2
  echo "$err" >&2
  failures=$((failures + 1))
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit status $rc, expected $1"; }
expect_re() { grep -qE -- "$1" <<<"$out" || fail "$2: nothing in stdout matches /$1/"; }

# Ends the test: status 1 when a check failed.
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all $1 checks passed"
}
