#!/usr/bin/env bash
# Make sure a container engine answers. An engine that already answers (Docker, or
# Podman's Docker-compatible socket via DOCKER_HOST) is used as it is; only on a machine
# with none do we install Debian's docker.io and start the daemon by hand, because the
# machines this project is tested on have no systemd to start it.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  log "container engine answers: $(docker info --format '{{.ServerVersion}}' 2>/dev/null)"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "no container engine answers and installing one needs root: start Docker or Podman, then retry"
    exit 1
  fi
  log "installing docker.io and debootstrap from Debian"
  # make test installs the browser beside the engine: one apt at a time. The lock is held
  # by this subshell alone, so the daemon started below does not inherit it (it would
  # hold it for its whole life, and the browser's install would wait for ever).
  (
    flock 9
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  ) 9>"${CELERY_STACK_APT_LOCK:-/tmp/celery-stack-apt.lock}"
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

docker info >/dev/null 2>&1 || { log "dockerd did not answer; see /var/log/dockerd.log"; exit 1; }
log "container engine answers: $(docker info --format '{{.ServerVersion}}')"
