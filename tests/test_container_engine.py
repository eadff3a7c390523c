"""scripts/container-engine.sh on a machine with no engine: it installs one under the apt
lock that the browser's install (scripts/browser.sh) shares, then starts dockerd in the
background. The daemon must not inherit that lock: make test installs the browser at the
same time, and a daemon holding the lock for its whole life made the browser's install,
and the page check waiting for it, hang on a brand-new machine. A daemon that ended with
the machine's processes leaves pid files in /var/run; a stale one must not stop the next
start, and a daemon that cannot start must say why."""

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
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", CELERY_STACK_APT_LOCK=str(lock),
               CELERY_STACK_DOCKER_RUN_DIR=str(tmp_path / "run"),
               CELERY_STACK_DOCKERD_LOG=str(tmp_path / "dockerd.log"))
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


def engine_installed(tmp_path: Path, dockerd_body: str) -> dict:
    """A machine with docker.io installed and no daemon running: docker answers once the
    stand-in dockerd has written its mark."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    started = tmp_path / "dockerd-started"
    stub(bin_dir, "docker", f'[ -e {started} ] || exit 1\n[ "$1" = info ] && echo 20.10.24\n')
    stub(bin_dir, "dockerd", dockerd_body.replace("STARTED", str(started)))
    stub(bin_dir, "debootstrap", "exit 0\n")
    (tmp_path / "run" / "docker" / "containerd").mkdir(parents=True)
    return dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin",
                CELERY_STACK_APT_LOCK=str(tmp_path / "apt.lock"),
                CELERY_STACK_DOCKER_RUN_DIR=str(tmp_path / "run"),
                CELERY_STACK_DOCKERD_LOG=str(tmp_path / "dockerd.log"))


def test_a_stale_containerd_pid_file_does_not_stop_the_daemon(tmp_path):
    # The failure seen in CI: the last daemon's containerd.pid named a number that another
    # process had since taken, and dockerd waited for that "containerd" until it gave up.
    pid_file = tmp_path / "run" / "docker" / "containerd" / "containerd.pid"
    env = engine_installed(tmp_path, f"""
if [ -e {pid_file} ] && kill -0 "$(cat {pid_file})" 2>/dev/null; then
  echo 'failed to start containerd: timeout waiting for containerd to start'; exit 1
fi
echo $$ > STARTED
exec sleep 30
""")
    other = subprocess.Popen(["sleep", "60"])
    pid_file.write_text(f"{other.pid}\n")
    try:
        result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"process {other.pid} is not a running containerd" in result.stderr
        assert not pid_file.exists()
        assert "container engine answers: 20.10.24" in result.stderr
    finally:
        other.kill()
        started = tmp_path / "dockerd-started"
        if started.exists():
            subprocess.run(["kill", started.read_text().strip()], check=False)


def test_a_daemon_that_cannot_start_fails_at_once_with_its_reason(tmp_path):
    env = engine_installed(tmp_path, "echo 'failed to start daemon: no space left on device'\nexit 1\n")
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "dockerd did not answer" in result.stderr
    assert "no space left on device" in result.stderr
