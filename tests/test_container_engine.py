"""scripts/container-engine.sh on a machine with no engine: it installs one under the apt
lock that the browser's install (scripts/browser.sh) shares, then starts dockerd in the
background. The daemon must not inherit that lock: make test installs the browser at the
same time, and a daemon holding the lock for its whole life made the browser's install,
and the page check waiting for it, hang on a brand-new machine."""

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "container-engine.sh"


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_started_daemon_does_not_hold_the_apt_lock(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    started = tmp_path / "dockerd-started"
    # A machine with no engine: docker answers only once the daemon runs; apt-get and
    # id (root, who may install) are stand-ins; the daemon stays up like the real one.
    stub(bin_dir, "docker", f'[ -e {started} ] || exit 1\n[ "$1" = info ] && echo 20.10.24\n')
    stub(bin_dir, "dockerd", f"echo $$ > {started}\nexec sleep 30\n")
    stub(bin_dir, "apt-get", 'if [ "$1" = install ]; then touch "$(dirname "$0")/debootstrap"; '
                             'chmod +x "$(dirname "$0")/debootstrap"; fi\n')
    stub(bin_dir, "id", "echo 0\n")
    lock = tmp_path / "apt.lock"
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", CELERY_STACK_APT_LOCK=str(lock))
    try:
        result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "installing docker.io and debootstrap" in result.stderr
        assert "starting dockerd in the background" in result.stderr
        # The browser's install takes the same lock next: it gets it at once.
        taken = subprocess.run(["flock", "--nonblock", str(lock), "true"], timeout=10)
        assert taken.returncode == 0, "the background dockerd still holds the apt lock"
    finally:
        if started.exists():
            subprocess.run(["kill", started.read_text().strip()], check=False)
