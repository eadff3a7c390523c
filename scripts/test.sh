#!/usr/bin/env bash
# make test: lint and unit first, then the container stages in two lanes side by side:
# the integration suite in one, the Molecule scenarios and the collection's converge one
# after another in the other. Those stages spend most of their time waiting (apt and pip
# inside containers, deploy gates, tasks that sleep), so two lanes on two cores finish
# well before one would.
# TEST_LANES=1 runs everything in one lane.
#
# Every stage runs even when an earlier one failed, so one run shows all problems. Each
# output line carries its stage's name; the last line counts stages as
# "N passed, N failed" and the exit code is non-zero when any failed.
set -uo pipefail
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
  # One short line per append, so the two lanes never interleave inside a line.
  printf '%s\t%s\n' "$verdict" "$name" >> "$results/stages"
}

molecule_lane() {
  local scenario
  # The cluster scenario is the longest: it starts first.
  for scenario in cluster $(ls molecule | grep -vx cluster); do
    stage "molecule $scenario" make --no-print-directory molecule-scenario SCENARIO="$scenario"
  done
  # The collection's own converge: in this lane, which is the shorter one without it.
  stage collection make --no-print-directory collection-test
}

stage lint make --no-print-directory lint
stage unit make --no-print-directory unit
if [ "${TEST_LANES:-2}" -ge 2 ]; then
  molecule_lane &
  stage integration make --no-print-directory integration
  wait
else
  stage integration make --no-print-directory integration
  molecule_lane
fi

passed=$(grep -c '^passed' "$results/stages")
failed=$(grep -c '^FAILED' "$results/stages")
printf '\n==> make test took %ss' $(( $(date +%s) - start ))
[ "$failed" -eq 0 ] || printf '; failed: %s' "$(grep '^FAILED' "$results/stages" | cut -f2 | paste -sd, -)"
printf '\n'
echo "stages: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
