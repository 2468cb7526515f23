#!/usr/bin/env bash
# Issue 12's side-by-side: our client as it is now (this checkout's working
# tree) against the library at commit 0038861, publisher-only against
# client_bench's fake broker, in the same run.
#
#   tools/bench_baseline.sh [--runs R] [--messages N] [--json]
#                           [--scenarios fake_publish_qos0,fake_publish_qos1]
#                           [--baseline COMMIT]
# Defaults: 5 repetitions of 1,000,000 messages (client_bench's default payload,
# 64 B), both scenarios, baseline 0038861.
#
# 1. Extracts the baseline commit (git archive) into a temp directory under
#    /tmp (removed on exit), puts this checkout's tools/client_bench (working
#    tree) in place of the old one, plus this checkout's WORKSPACE and bazel/,
#    and builds it there with -c opt: the old mqtt/ and transport/, today's
#    benchmark and fake broker. Compatibility patches, in the temp copy only,
#    when the baseline lacks an API today's ours_runner.cc uses (each one fails
#    the script loudly when its text is no longer found):
#      - no mqtt/url.h: tools/lib/bench_baseline/url_compat.h becomes
#        mqtt/url.h (mqtt:// URLs only) and is added to //mqtt:client's hdrs;
#      - no Client::try_create(): "mqtt::Client::try_create(" becomes the
#        shim's mqtt_baseline_compat::try_create (Client::create, exception
#        as an error value);
#      - no MqttOptions::tls: the line setting o.tls->ca_file is dropped
#        (the fake broker is plain TCP).
#    The temp workspace has its own output base (inside the temp directory)
#    and server, shut down when the build is done and again on exit. It uses
#    the same disk cache as tools/test_all.sh, so later runs are faster.
# 2. Builds //tools/client_bench here with -c opt (before the baseline, and
#    again, at most 3 times, if tools/client_bench changed while it built: the
#    copy in the temp tree is taken right after this build and must match).
# 3. Copies both binaries aside (so that a rebuild here during the run does
#    not swap one) and runs them interleaved, baseline then current, R times
#    per scenario, each invocation "--scenario S --library ours --runs 1
#    --messages N --json" (its own fake broker child on 127.0.0.1).
# 4. Prints per scenario each build's median msg/s and client CPU µs/msg, and
#    the per-repetition ratios current/baseline with their medians, against
#    issue 12's targets (>= 2x msg/s, <= 0.57x CPU/msg; set for QoS 0, shown
#    for the others for reference). --json: one JSON line per invocation
#    ("kind":"run") and per scenario ("kind":"summary") on stdout.
# A run that did not deliver every message is listed and left out of the
# medians and of that repetition's ratio. The machine's 2 cores are shared:
# run it while nothing else compiles, or read the spread.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lib=$root/tools/lib/bench_baseline
# shellcheck source=tools/lib/on_exit.sh
source "$root/tools/lib/on_exit.sh"
trap 'exit 130' INT TERM

runs=5
messages=1000000
json=0
baseline=0038861
scenarios=fake_publish_qos0,fake_publish_qos1
cache=${BENCH_BASELINE_DISK_CACHE:-/var/tmp/mqtt-bazel-disk-cache}

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --messages) [ $# -ge 2 ] || usage; messages=$2; shift 2 ;;
    --scenarios) [ $# -ge 2 ] || usage; scenarios=$2; shift 2 ;;
    --baseline) [ $# -ge 2 ] || usage; baseline=$2; shift 2 ;;
    --json) json=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "bench_baseline: unknown argument: $1" >&2; usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench_baseline: --runs: 1..999" >&2; exit 2; }
[[ $messages =~ ^[1-9][0-9]{0,8}$ ]] || { echo "bench_baseline: --messages: a positive number" >&2; exit 2; }
IFS=, read -r -a scenario_list <<<"$scenarios"
[ ${#scenario_list[@]} -gt 0 ] || usage
for s in "${scenario_list[@]}"; do
  [[ $s =~ ^fake_publish_qos[012]$ ]] || { echo "bench_baseline: not a fake-broker scenario: $s" >&2; exit 2; }
done
baseline_full=$(git -C "$root" rev-parse --verify "$baseline^{commit}") ||
  { echo "bench_baseline: no such commit: $baseline" >&2; exit 2; }
baseline_short=$(git -C "$root" rev-parse --short "$baseline_full")
current=$(git -C "$root" rev-parse --short HEAD)
if [ -n "$(git -C "$root" status --porcelain -- mqtt transport tools/client_bench)" ]; then
  current="$current+changes"
fi

say() { echo "bench_baseline: $*" >&2; }
# Runs a Bazel command in a directory with its output in LOG; shows only
# waits for the workspace lock and errors as they come.
bazel_logged() {  # LOG DIR COMMAND...
  local log=$1 dir=$2
  shift 2
  (cd "$dir" && "$@") 2>&1 | tee "$log" |
    { grep --line-buffered -E '^(Another command|ERROR)' | sed -u 's/^/bench_baseline:   bazel: /' >&2 || true; }
  return "${PIPESTATUS[0]}"
}
start=$SECONDS
phase() { say "[$((SECONDS - start)) s] $*"; }

tmp=$(mktemp -d /tmp/bench-baseline.XXXXXX)
on_exit "rm -rf '$tmp'"
src=$tmp/src
ob=$tmp/output_base
mkdir -p "$src"
# Registered after the rm, so it runs first: no server is left behind.
on_exit "[ -d '$ob' ] && (cd '$src' && bazel --output_base='$ob' shutdown) >/dev/null 2>&1"

# --- 1. the baseline tree ---
phase "extracting $baseline_short into $src"
git -C "$root" archive --format=tar "$baseline_full" | tar -x -C "$src"
if ! cmp -s "$root/.bazelrc" "$src/.bazelrc"; then
  say "note: $baseline_short's .bazelrc differs from this checkout's; the baseline builds with its own"
fi
for f in WORKSPACE bazel; do
  if ! diff -rq "$root/$f" "$src/$f" >/dev/null 2>&1; then
    say "note: using this checkout's $f (differs from $baseline_short's)"
  fi
  rm -rf "${src:?}/$f"
  cp -r "$root/$f" "$src/$f"
done

# --- 2. today's build, and today's benchmark code into the baseline tree ---
# Both binaries must run the same benchmark code, and someone may be editing
# it: its hash before and after the build here must match the copy's, else
# build and copy again (a build can wait long for this workspace's lock).
bench_hash() {  # TREE
  (cd "$1" && find tools/client_bench -type f ! -path '*/bazel-*' -print0 | sort -z | xargs -0 sha256sum |
    sha256sum | cut -c1-16)
}
same=0
for attempt in 1 2 3; do
  phase "building //tools/client_bench here (-c opt; waits while another Bazel command runs here)"
  hash_before=$(bench_hash "$root")
  if ! bazel_logged "$tmp/build-current.log" "$root" bazel build -c opt //tools/client_bench; then
    tail -n 60 "$tmp/build-current.log" >&2
    say "FAILED: building //tools/client_bench in $root (log above)"
    exit 1
  fi
  new_bin=$(bazel info -c opt bazel-bin 2>/dev/null)
  cp "$new_bin/tools/client_bench/client_bench" "$tmp/client_bench.current"
  rm -rf "$src/tools/client_bench"
  cp -r "$root/tools/client_bench" "$src/tools/client_bench"
  rm -rf "$src/tools/client_bench"/bazel-* 2>/dev/null || true
  hash_after=$(bench_hash "$root")
  if [ "$hash_before" = "$hash_after" ] && [ "$(bench_hash "$src")" = "$hash_after" ]; then
    same=1
    break
  fi
  say "tools/client_bench changed while building it (attempt $attempt of 3)"
done
[ "$same" = 1 ] || {
  say "FAILED: tools/client_bench kept changing (someone is editing it); run again later"
  exit 1
}

# --- compatibility patches (temp copy only) ---
replace() { python3 "$lib/replace.py" "$@" || { say "FAILED: compat patch ($1)"; exit 1; }; }
patches=()
runner=$src/tools/client_bench/ours_runner.cc
if [ ! -e "$src/mqtt/url.h" ]; then
  grep -q '"mqtt/url.h"' "$src"/tools/client_bench/*.cc ||
    { say "FAILED: compat patch (url.h): tools/client_bench no longer includes mqtt/url.h; revisit the shim"; exit 1; }
  cp "$lib/url_compat.h" "$src/mqtt/url.h"
  replace "$src/mqtt/BUILD" '"token.h",' $'"token.h",\n        "url.h",' 1
  patches+=("mqtt/url.h: compat shim (parse_broker_url/apply_url for mqtt:// only) added to //mqtt:client")
fi
if ! grep -q 'try_create' "$src/mqtt/client.h"; then
  replace "$runner" 'mqtt::Client::try_create(' 'mqtt_baseline_compat::try_create('
  patches+=("ours_runner.cc: mqtt::Client::try_create -> shim over Client::create")
fi
if ! grep -Eq '(^|[^_a-z])tls;' "$src/mqtt/options.h"; then
  replace "$runner" 'if (o.tls) o.tls->ca_file = c.ca_file;' '/* bench_baseline: no MqttOptions::tls at the baseline */' 1
  patches+=("ours_runner.cc: dropped the o.tls->ca_file line (no TLS in the baseline)")
fi
for p in "${patches[@]}"; do say "compat patch: $p"; done

# --- the baseline build ---
phase "building $baseline_short + today's client_bench (-c opt, output base in $tmp)"
bz_old=(bazel --output_base="$ob" --max_idle_secs=300)
if ! bazel_logged "$tmp/build-baseline.log" "$src" "${bz_old[@]}" build -c opt --disk_cache="$cache" \
  //tools/client_bench; then
  tail -n 60 "$tmp/build-baseline.log" >&2
  say "FAILED: building the baseline (log above). If today's tools/client_bench uses an API that"
  say "        $baseline_short lacks, add a compat patch (section \"compatibility patches\" of this script)."
  exit 1
fi
old_bin=$(cd "$src" && "${bz_old[@]}" info -c opt bazel-bin 2>/dev/null)
cp "$old_bin/tools/client_bench/client_bench" "$tmp/client_bench.baseline"
(cd "$src" && bazel --output_base="$ob" shutdown) >/dev/null 2>&1 || true

# --- 3. interleaved runs ---
# The flags this script relies on, checked in each binary's --help first.
for build in baseline current; do
  help=$("$tmp/client_bench.$build" --help 2>&1 </dev/null || true)
  for flag in --scenario --library --messages --runs --json; do
    grep -q -- "$flag" <<<"$help" || {
      say "FAILED: the $build client_bench has no $flag (its --help below); update this script"
      echo "$help" >&2
      exit 1
    }
  done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
phase "running: ${scenario_list[*]}, $runs repetitions of $messages messages (load average $load)"
python3 - "$tmp/meta.json" "$baseline_short" "$current" "$runs" "$messages" "$load" "${scenario_list[@]}" <<'EOF'
import json, sys
path, base, cur, runs, messages, load, *scen = sys.argv[1:]
json.dump({"baseline_commit": base, "current": cur, "runs": int(runs), "messages": int(messages),
           "load_average": load, "scenarios": scen}, open(path, "w"))
EOF
: >"$tmp/runs.jsonl"
for ((rep = 1; rep <= runs; rep++)); do
  for s in "${scenario_list[@]}"; do
    for build in baseline current; do
      out=$tmp/out.$s.$rep.$build
      rc=0
      timeout --kill-after=10 600 "$tmp/client_bench.$build" --scenario "$s" --library ours --runs 1 \
        --messages "$messages" --json >"$out" 2>"$out.err" </dev/null || rc=$?
      python3 "$lib/summarize.py" run "$s" "$rep" "$build" "$rc" "$out" "$out.err" >>"$tmp/runs.jsonl" || {
        say "FAILED: reading client_bench's output (above); its stdout was:"
        cat "$out" >&2
        exit 1
      }
      tail -n 1 "$tmp/runs.jsonl" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
if r["ok"]:
    cpu = r["cpu_us_per_message"]
    print("bench_baseline:   %s %d %-8s %10.0f msg/s  %s us/msg" % (r["scenario"], r["rep"], r["build"],
          r["msgs_per_s"], "n/a" if cpu is None else "%.3f" % cpu), file=sys.stderr)
else:
    print("bench_baseline:   %s %d %-8s INCOMPLETE: %s" % (r["scenario"], r["rep"], r["build"], r["error"]),
          file=sys.stderr)'
    done
  done
done

# --- 4. the report ---
phase "done"
if [ "$json" = 1 ]; then
  python3 "$lib/summarize.py" report "$tmp/runs.jsonl" "$tmp/meta.json" --json
else
  echo "baseline: $baseline_short (mqtt/, transport/) + today's tools/client_bench, -c opt"
  echo "current:  $current (this working tree), -c opt"
  for p in "${patches[@]}"; do echo "compat patch (baseline copy only): $p"; done
  python3 "$lib/summarize.py" report "$tmp/runs.jsonl" "$tmp/meta.json"
fi
