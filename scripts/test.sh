#!/usr/bin/env bash
# make test: every stage runs even when an earlier one failed, so one run shows all
# problems; the last line counts stages as "N passed, N failed" and the exit code is
# non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
start=$(date +%s)

stage() {
  local name=$1; shift
  local t0=$(date +%s)
  printf '\n==> [%s] %s\n' "$name" "$*"
  if "$@"; then
    passed=$((passed + 1))
    printf '==> [%s] passed in %ss\n' "$name" $(( $(date +%s) - t0 ))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '==> [%s] FAILED in %ss\n' "$name" $(( $(date +%s) - t0 ))
  fi
}

stage lint make --no-print-directory lint
stage unit make --no-print-directory unit
stage integration make --no-print-directory integration
for scenario in $(ls molecule); do
  stage "molecule $scenario" make --no-print-directory molecule-scenario SCENARIO="$scenario"
done

printf '\n==> make test took %ss' $(( $(date +%s) - start ))
[ ${#failures[@]} -eq 0 ] || printf '; failed: %s' "${failures[*]}"
printf '\n'
echo "stages: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
