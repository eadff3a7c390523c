#!/usr/bin/env bash
# Make sure a headless Chromium and its WebDriver are at hand, for the test that looks at
# Flower's pages in a real browser. A Chromium already installed (CHROMIUM, CHROMEDRIVER,
# or on PATH) is used as it is; on a Debian machine with none, Debian's own packages are
# installed (no browser is downloaded from anywhere else).
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

# make test starts this script early, in the background, and the page checks run it again
# before they open a browser (tests/browser/flower_pages.py): the lock makes that second
# run wait for an install under way, not find a half-installed Chromium. The engine's
# install (scripts/container-engine.sh) takes the same lock: one apt at a time.
# Only root installs (below), so only root waits.
if [ "$(id -u)" -eq 0 ]; then
  lock=${CELERY_STACK_APT_LOCK:-/tmp/celery-stack-apt.lock}
  exec 9>"$lock"
  # An install takes about a minute; a lock held far longer is a stuck apt, named here.
  flock --wait 900 9 || { log "waited 15 minutes for $lock (another apt run holds it: fuser $lock)"; exit 1; }
fi

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
driver=${CHROMEDRIVER:-$(command -v chromedriver || true)}

if [ -z "$browser" ] || [ -z "$driver" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "no Chromium and chromedriver found: install them (Debian: chromium chromium-driver) or set CHROMIUM and CHROMEDRIVER"
    exit 1
  fi
  log "installing chromium and chromium-driver from Debian (about a minute)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  browser=$(command -v chromium)
  driver=$(command -v chromedriver)
fi

log "browser: $("$browser" --version 2>/dev/null | head -1) ($browser), driver: $driver"
