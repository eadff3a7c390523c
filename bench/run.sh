#!/usr/bin/env bash
# make bench: the figures of bench/README.md, measured against the local demo container
# (created and converged by scripts/demo.sh first) and, for figures 5 and 8, on hosts the
# bench makes and removes itself; printed as a table and written to
# bench/results/<time>.json. Counts and switches come from the environment:
#   BENCH_TASKS=20000 BENCH_TASKS_10MS=2000 BENCH_PAIRS=3 BENCH_ROUNDTRIPS=1000
#   BENCH_FIGURES=1,2,3,4,5,5b,6,7 (8 only when named) BENCH_MONITOR_CPUS=0
#   BENCH_RESTART_EVERY_MS=50 BENCH_RESTART_LONG=2 for figure 8
#   BENCH_MOLECULE_LOG=<file> or BENCH_RUN_MOLECULE=1 for figure 4
#   BENCH_SKIP_DEMO=1 to use the demo container as it is, without converging it first
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PWD/.venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
export BENCH_STAMP=${BENCH_STAMP:-$(date -u +%Y%m%dT%H%M%SZ)}
results=${BENCH_RESULTS:-bench/results}
mkdir -p "$results"

# What `make demo` needs, from a fresh clone: the controller virtualenv, a container
# engine, the image and the converged demo container.
[ -x .venv/bin/ansible-playbook ] || make venv
docker info >/dev/null 2>&1 || scripts/container-engine.sh
# The image of the demo, of figure 3's container and of the hosts of figures 5 and 8.
scripts/build-image.sh 12 "${BENCH_IMAGE:-celery-stack/debian-systemd:12}"

# Figures 3, 4, 5, 5b and 8 do not use the demo: a selection of those alone leaves it alone.
if [ "${BENCH_SKIP_DEMO:-0}" != 1 ] && .venv/bin/python bench/bench.py --needs-demo; then
  log="$results/$BENCH_STAMP-demo.log"
  echo "[bench] scripts/demo.sh up (converges celery-demo; log: $log)"
  if ! scripts/demo.sh up >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "[bench] scripts/demo.sh up failed; see $log" >&2
    exit 1
  fi
fi

exec .venv/bin/python bench/bench.py
