#!/usr/bin/env bash
# make test: lint and unit first (side by side), then the container stages in three lanes
# side by side.
# Those stages spend much of their time waiting (apt and pip inside containers, Erlang
# starting, deploy gates, tasks that sleep), so four lanes on two cores finish well
# before one would. Each lane holds about a quarter of the work (times of one run: the
# README's test table):
#   1. Molecule cluster, then the collection's converge;
#   2. Molecule default (with its fault cases), then the host lifecycle tests;
#   3. the releases and the bad inputs;
#   4. the move of an old deployment's queues (tests/integration/test_migration.py) and
#      the own app's integration tests, in one pytest run: both mostly waiting
#      (countdowns, the broker's consumer_timeout), the first while the second runs.
# TEST_LANES=1 runs everything in one lane.
#
# Every stage runs even when an earlier one failed, so one run shows all problems. Each
# output line carries its stage's name; the last line counts stages as
# "N passed, N failed" and the exit code is non-zero when any failed.
set -uo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
start=$(date +%s)

stage() {
  local name=$1; shift
  local t0 status verdict
  t0=$(date +%s)
  printf '\n==> [%s] %s\n' "$name" "$*"
  "$@" 2>&1 | sed -u "s/^/[$name] /"
  status=${PIPESTATUS[0]}
  verdict=passed
  [ "$status" -eq 0 ] || verdict=FAILED
  printf '==> [%s] %s in %ss\n' "$name" "$verdict" $(( $(date +%s) - t0 ))
  # One short line per append, so the lanes never interleave inside a line.
  printf '%s\t%s\n' "$verdict" "$name" >> "$results/stages"
}

integration() {
  local name=$1; shift
  stage "integration $name" make --no-print-directory integration INTEGRATION="$*"
}

lane1() {
  stage "molecule cluster" make --no-print-directory molecule-scenario SCENARIO=cluster
  stage collection make --no-print-directory collection-test
}

lane2() {
  stage "molecule default" make --no-print-directory molecule-scenario SCENARIO=default
  integration lifecycle tests/integration/test_lifecycle.py
}

lane3() {
  integration releases tests/integration/test_releases.py tests/integration/test_bad_input.py
}

# One run for both: the migration's countdown tasks come due while the own app's tests run
# (its test that waits for them runs last).
lane4() {
  integration migration+own-app tests/integration/test_migration.py tests/integration/test_own_app.py
}

# Every scenario and every integration file has a lane: a new one must be added above.
for scenario in $(ls molecule); do
  grep -q "SCENARIO=$scenario\b" "$self" || { echo "scripts/test.sh: molecule/$scenario is in no lane" >&2; exit 1; }
done
for file in tests/integration/test_*.py; do
  [ "$file" = tests/integration/test_collection.py ] && continue
  grep -q "$file" "$self" || { echo "scripts/test.sh: $file is in no lane" >&2; exit 1; }
done

# The browser installs (on a new machine) while everything else runs: only the page checks
# at the end of two scenarios need it, and they wait for it (tests/browser/flower_pages.py).
stage browser make --no-print-directory browser &
# Each of the two runs on about one core: side by side they take the time of the longer.
stage lint make --no-print-directory lint & lint=$!
stage unit make --no-print-directory unit
wait "$lint"
if [ "${TEST_LANES:-3}" -ge 2 ]; then
  lane1 & one=$!
  lane2 & two=$!
  lane4 & four=$!
  lane3
  wait "$one" "$two" "$four"
else
  lane1
  lane2
  lane3
  lane4
fi
wait  # the browser's install

passed=$(grep -c '^passed' "$results/stages")
failed=$(grep -c '^FAILED' "$results/stages")
printf '\n==> make test took %ss' $(( $(date +%s) - start ))
[ "$failed" -eq 0 ] || printf '; failed: %s' "$(grep '^FAILED' "$results/stages" | cut -f2 | paste -sd, -)"
printf '\n'
echo "stages: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
