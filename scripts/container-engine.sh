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

# The daemon's run directory and log; tests point them elsewhere.
run_dir=${CELERY_STACK_DOCKER_RUN_DIR:-/var/run}
daemon_log=${CELERY_STACK_DOCKERD_LOG:-/var/log/dockerd.log}

# pid_alive FILE PROGRAM: FILE names a process that is PROGRAM and still runs.
pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$2" ]
}

# A daemon that ended with its machine's processes (a session's end, a killed run) leaves
# its pid files behind, and /var/run outlives it here. Once another process has taken
# that number, dockerd believes its containerd still runs, waits for a socket nobody
# serves and gives up ("timeout waiting for containerd to start"). Only files whose
# process is not the program they name are removed.
clear_stale_pid() {
  if [ -f "$1" ] && ! pid_alive "$1" "$2"; then
    log "removing $1: process $(cat "$1" 2>/dev/null || echo '?') is not a running $2"
    rm -f "$1"
  fi
}

if ! docker info >/dev/null 2>&1; then
  clear_stale_pid "$run_dir/docker.pid" dockerd
  clear_stale_pid "$run_dir/docker/containerd/containerd.pid" containerd
  daemon=
  if pid_alive "$run_dir/docker.pid" dockerd; then
    log "dockerd runs (pid $(cat "$run_dir/docker.pid")) but does not answer yet: waiting for it"
  else
    log "starting dockerd in the background (log: $daemon_log)"
    setsid dockerd >"$daemon_log" 2>&1 </dev/null &
    daemon=$!
  fi
  # Usually under a second; a first start on a slow disk takes longer.
  for _ in $(seq 1 240); do
    docker info >/dev/null 2>&1 && break
    if [ -n "$daemon" ] && ! kill -0 "$daemon" 2>/dev/null; then
      break
    fi
    sleep 0.5
  done
fi

if ! docker info >/dev/null 2>&1; then
  log "dockerd did not answer; the end of $daemon_log:"
  tail -n 15 "$daemon_log" >&2 2>/dev/null || true
  exit 1
fi
log "container engine answers: $(docker info --format '{{.ServerVersion}}')"
