#!/usr/bin/env bash
# The local demo: one systemd-booting Debian container plays every host of
# inventory/local. "up" creates (or reuses) it, converges site.yml, sends a task through
# the deployed worker and shows both units; "down" removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

name=celery-demo
image=${DEMO_IMAGE:-celery-stack/debian-systemd:12}
flower_port=${DEMO_FLOWER_PORT:-5555}
secrets=inventory/local/.secrets
app=test_celery

log() { printf '\n==> %s\n' "$*"; }

up() {
  scripts/build-image.sh 12 "$image"
  if [ -z "$(docker ps -aq --filter "name=^${name}$")" ]; then
    log "starting container $name from $image"
    # The one way the tests, the bench and the demo start a host (systemd without --privileged).
    python3 tests/support/systemd_host.py "$name" "$image" -p "127.0.0.1:${flower_port}:5555"
  else
    log "reusing container $name"
    docker start "$name" >/dev/null
    # systemd_host.py waited for a new one's boot; a restarted one boots again.
    docker exec "$name" systemctl is-system-running --wait >/dev/null || true
  fi

  log "ansible-playbook site.yml"
  ansible-playbook site.yml

  log "python -m celery_stack $app.run_tasks (as the app's user, with the deployed settings)"
  docker exec "$name" systemd-run --quiet --wait --pipe --collect \
    --uid=celery --gid=celery -p EnvironmentFile=/etc/$app/celery.env \
    /opt/$app/venv/bin/python -m celery_stack $app.run_tasks

  log "systemctl status celery-worker celery-beat flower"
  docker exec "$name" systemctl status --no-pager --lines=3 celery-worker celery-beat flower || true

  log "the periodic task: beat sends the heartbeat every 10 s, the worker runs it"
  sleep 12  # one interval of the heartbeat (inventory/local)
  docker exec "$name" journalctl --no-pager --output=cat --unit=celery-beat --unit=celery-worker \
    --grep='heartbeat' --since=-12s || true

  cat <<MSG

==> Flower: http://127.0.0.1:${flower_port}/ (published on this machine's loopback only)
    user:     admin
    password: cat $secrets/flower-admin
    From another machine: ssh -L ${flower_port}:127.0.0.1:${flower_port} THIS_MACHINE
    Remove the demo with: make demo-clean
MSG
}

down() {
  if [ -n "$(docker ps -aq --filter "name=^${name}$" 2>/dev/null)" ]; then
    log "removing container $name"
    docker rm -f "$name" >/dev/null
  fi
  rm -rf "$secrets"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
