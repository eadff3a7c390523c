"""One way to start a test host: a container from one of the images scripts/build-image.sh
makes, systemd as PID 1, without --privileged (which these machines refuse; README,
"Containers"). Used by the integration suite (tests/integration/conftest.py), the bench
(bench/host.py) and the demo (scripts/demo.sh, through the command line below). Molecule's
platforms (molecule/*/molecule.yml) say the same in its own terms.

    python3 tests/support/systemd_host.py NAME IMAGE [DOCKER RUN OPTIONS...]

starts NAME (its host name too) and returns once systemd has finished booting; exit 1
with the reason when it does not.
"""

from __future__ import annotations

import subprocess
import sys
import time

SYSTEMD_FLAGS = (
    "--cap-add", "SYS_ADMIN", "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
    # What systemd takes as "shut down cleanly": docker stop is then a clean shutdown.
    "--stop-signal", "SIGRTMIN+3",
)


class BootError(Exception):
    pass


def start(name: str, image: str, *options: str, boot_timeout: float = 60) -> str:
    """Start the container and wait until systemd says running (or degraded); its name."""
    proc = subprocess.run(["docker", "run", "-d", "--name", name, "--hostname", name,
                           *SYSTEMD_FLAGS, *options, image, "/lib/systemd/systemd"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BootError(f"docker run {name} exited {proc.returncode}: {proc.stderr.strip()}")
    wait_booted(name, boot_timeout)
    return name


def wait_booted(name: str, boot_timeout: float = 60) -> None:
    deadline = time.monotonic() + boot_timeout
    state = ""
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"],
                               capture_output=True, text=True).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise BootError(f"{name}: systemd did not finish booting in {boot_timeout:.0f} s (state {state or 'unknown'})")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    try:
        start(sys.argv[1], sys.argv[2], *sys.argv[3:])
    except BootError as error:
        sys.exit(str(error))
