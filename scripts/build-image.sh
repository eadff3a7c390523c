#!/usr/bin/env bash
# Build a systemd-booting Debian image from the Debian mirror with debootstrap, for
# machines that reach no container registry. Usage: build-image.sh 12|13 [IMAGE]
# Nothing is built when IMAGE already exists, or when IMAGE is not one of ours (a user
# with a registry names a public systemd image and the driver pulls it).
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

release=${1:?usage: build-image.sh 12|13 [IMAGE]}
case "$release" in
  12) suite=bookworm ;;
  13) suite=trixie ;;
  *) log "release must be 12 or 13, got '$release'"; exit 2 ;;
esac
prefix=${CELERY_STACK_IMAGE_PREFIX:-celery-stack/debian-systemd}
image=${2:-$prefix:$release}

if docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image exists, reused"
  exit 0
fi
if [[ "$image" != "$prefix:"* ]]; then
  log "image $image is not built here; the container engine pulls it"
  exit 0
fi

# The mirror the host's apt already uses: DEBIAN_MIRROR, else the first non-security
# entry of the deb822 sources, else of the one-line lists. No address is built in: a
# machine that names no mirror is told so instead of reaching one it never chose.
apt_etc=${APT_ETC_DIR:-/etc/apt}
host_mirror() {
  awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$apt_etc"/sources.list.d/*.sources 2>/dev/null || true
  awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; exit}}' \
    "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list 2>/dev/null | grep -v security || true
}
mirror=${DEBIAN_MIRROR:-$(host_mirror | head -n 1)}
if [ -z "$mirror" ]; then
  log "no Debian mirror found in $apt_etc/sources.list{,.d/}: set DEBIAN_MIRROR, e.g. DEBIAN_MIRROR=http://mirror.example/debian"
  exit 1
fi
security=${DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}

command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }

rootfs=$(mktemp -d /var/tmp/celery-stack-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

log "debootstrap $suite from $mirror (about a minute)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,python3,sudo,ca-certificates,iproute2,dbus \
  "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"

cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -f "$rootfs/etc/apt/sources.list"

# Where this machine reaches the internet through an intercepting proxy, its CA bundle
# is trusted inside the image too, so pip and apt in the test hosts work; without a
# configured bundle nothing is added.
bundle=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
if [ -n "$bundle" ] && [ -s "$bundle" ]; then
  log "trusting the host's CA bundle $bundle inside the image"
  cp "$bundle" "$rootfs/usr/local/share/ca-certificates/host-ca-bundle.crt"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  # pip in a virtualenv carries its own CA list; point it at the system store.
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
fi

# A fresh machine-id per container, no stale package lists, no getty on a console.
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
chroot "$rootfs" systemctl mask getty.target console-getty.service >/dev/null 2>&1 || true

log "importing $image"
tar -C "$rootfs" --numeric-owner -cf - . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
log "image $image built"
