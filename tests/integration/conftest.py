"""A throwaway systemd container to point playbooks at, for tests that must show a host
left exactly as it was."""

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("MOLECULE_DEBIAN12_IMAGE") or "celery-stack/debian-systemd:12"
# Files changed after this marker was written count as a change to the host.
MARKER = "/run/celery-stack-test-marker"
WATCHED = ["/etc", "/opt", "/usr", "/var/lib/apt", "/var/lib/dpkg", "/var/lib/rabbitmq", "/var/cache/apt"]


def docker(*args, check=True, **kwargs):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def target():
    """A booted Debian 12 container, removed at the end."""
    name = f"badinput-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "-d", "--name", name, "--hostname", name,
        "--cap-add", "SYS_ADMIN", "--cgroupns", "host",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        IMAGE, "/lib/systemd/systemd",
    )
    try:
        for _ in range(120):
            state = docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        docker("exec", name, "touch", MARKER)
        yield name
    finally:
        docker("rm", "-f", name, check=False)


def host_state(name: str) -> dict:
    """What a change would show: installed packages, accounts, files touched since the marker."""
    packages = docker("exec", name, "dpkg-query", "-W", "-f=${Package} ${Version}\\n").stdout
    accounts = docker("exec", name, "getent", "passwd").stdout
    touched = docker(
        "exec", name, "find", *WATCHED, "-xdev", "-newer", MARKER, "-print", check=False,
    ).stdout.split()
    return {"packages": packages, "accounts": accounts, "touched": sorted(touched)}


@pytest.fixture(scope="session")
def ansible_playbook():
    exe = ROOT / ".venv" / "bin" / "ansible-playbook"
    return str(exe) if exe.exists() else shutil.which("ansible-playbook")
