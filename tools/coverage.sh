#!/usr/bin/env bash
# Line coverage of mqtt/session/ from one g++ --coverage build outside Bazel:
# the simulation (tests/sim, N seeds) and the session unit tests
# (tests/session, Catch2). Prints lcov's per-file line coverage of
# mqtt/session/ for the simulation alone, the unit tests alone, and both.
#
#   tools/coverage.sh [SEEDS]        (default 2000 seeds)
#   COVERAGE_DIR=/tmp/x tools/coverage.sh 500
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seeds=${1:-2000}
out=${COVERAGE_DIR:-/tmp/mqtt-session-coverage}
cxx=${CXX:-g++}
jobs=${JOBS:-2}
command -v lcov >/dev/null || { echo "coverage.sh: lcov is not installed (tools/setup.sh installs it)"; exit 1; }

rm -rf "$out"
mkdir -p "$out/obj" "$out/bin"
flags=(-std=c++20 -O0 -g --coverage -I"$root" -Wall -Wextra)

# One object per source; the library's objects are shared by every binary,
# so their counters add up over all runs.
lib_srcs=(mqtt/codec/*.cc mqtt/session/*.cc)
sim_srcs=(tests/sim/broker.cc tests/sim/checker.cc tests/sim/client.cc tests/sim/config.cc
          tests/sim/network.cc tests/sim/runner.cc tests/sim/user.cc)
unit_tests=(tests/session/*_test.cc tests/sim/sim_parts_test.cc)
obj() { echo "$out/obj/$(echo "${1%.cc}" | tr / _).o"; }
export -f obj
export out cxx
printf '%s\n' "${lib_srcs[@]}" "${sim_srcs[@]}" tests/sim/main.cc tests/catch_main.cc "${unit_tests[@]}" |
  xargs -P "$jobs" -I{} bash -c '"$cxx" '"${flags[*]}"' -c {} -o "$(obj {})"' || {
  echo "coverage.sh: compile failed"
  exit 1
}
lib_objs=()
for s in "${lib_srcs[@]}"; do lib_objs+=("$(obj "$s")"); done
sim_objs=()
for s in "${sim_srcs[@]}"; do sim_objs+=("$(obj "$s")"); done
"$cxx" --coverage -o "$out/bin/sim" "$(obj tests/sim/main.cc)" "${sim_objs[@]}" "${lib_objs[@]}"
for t in "${unit_tests[@]}"; do
  extra=()
  [[ $t == tests/sim/* ]] && extra=("${sim_objs[@]}")
  "$cxx" --coverage -o "$out/bin/$(basename "${t%.cc}")" "$(obj "$t")" "$(obj tests/catch_main.cc)" \
    "${extra[@]}" "${lib_objs[@]}"
done

capture() {  # name
  lcov --quiet --capture --directory "$out/obj" --output-file "$out/$1.all.info" >/dev/null 2>&1
  lcov --quiet --extract "$out/$1.all.info" "$root/mqtt/session/*" --output-file "$out/$1.info" >/dev/null 2>&1
}

echo "=== simulation: $seeds seeds"
lcov --quiet --zerocounters --directory "$out/obj"
"$out/bin/sim" --seeds "$seeds" --budget 100000 | tail -n 20
capture sim

echo "=== session unit tests"
lcov --quiet --zerocounters --directory "$out/obj"
for t in "${unit_tests[@]}"; do
  b="$out/bin/$(basename "${t%.cc}")"
  "$b" >"$out/$(basename "$b").log" 2>&1 || { echo "FAILED: $b (log: $out/$(basename "$b").log)"; exit 1; }
  tail -n 2 "$out/$(basename "$b").log" | grep -E "passed|failed" | sed "s|^|  $(basename "$b"): |"
done
capture unit

lcov --quiet -a "$out/sim.info" -a "$out/unit.info" -o "$out/both.info" >/dev/null 2>&1
for n in sim unit both; do
  echo "=== line coverage of mqtt/session/: $n"
  lcov --list "$out/$n.info" 2>/dev/null | sed -n '/Filename/,$p' | sed "s|$root/||"
done
echo "lcov data: $out/{sim,unit,both}.info (genhtml $out/both.info -o $out/html for a report)"
