"""A throwaway systemd container to point playbooks at, for tests that must show a host
left exactly as it was."""

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("MOLECULE_DEBIAN12_IMAGE") or "celery-stack/debian-systemd:12"
# Files changed after this marker was written count as a change to the host.
MARKER = "/run/celery-stack-test-marker"
WATCHED = ["/etc", "/opt", "/usr", "/var/lib/apt", "/var/lib/dpkg", "/var/lib/rabbitmq", "/var/cache/apt"]


def docker(*args, check=True, **kwargs):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kwargs)


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test of the run (it waits for a moment in time)")


def pytest_collection_modifyitems(items):
    """A test that only waits for a moment in time (test_migration.py's countdowns) runs
    last, so that the other files of the same run use the wait (scripts/test.sh gives the
    migration and the own app one run). Its fixture must then live for the session."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture(scope="session")
def target():
    """A booted Debian 12 container, removed at the end."""
    name = start_container("badinput")
    try:
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

# The inventory every test starts from (tests/support/inventory.py), on a container.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.inventory import BROKER_PASSWORD, FLOWER_PASSWORD, GROUPS, MONITOR_PASSWORD, NASTY  # noqa: E402,F401
from support import inventory, systemd_host  # noqa: E402


def base_vars() -> dict:
    """A valid inventory for one container playing every part."""
    return {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
            **inventory.base_vars()}


def write_inventory(path, name, variables, groups):
    hosts = {"all": {"children": {group: {"hosts": {name: None}} for group in groups}}}
    (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (path / "group_vars").mkdir(exist_ok=True)
    (path / "group_vars" / "all.yml").write_text(yaml.safe_dump(variables))


def run_playbook(inventory, playbook, *options):
    exe = ROOT / ".venv" / "bin" / "ansible-playbook"
    exe = str(exe) if exe.exists() else shutil.which("ansible-playbook")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [exe, "-i", str(inventory / "hosts.yml"), str(ROOT / playbook), *options],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )


def start_container(prefix: str) -> str:
    """A booted Debian 12 host (tests/support/systemd_host.py), marked as unchanged so far."""
    name = systemd_host.start(f"{prefix}-{uuid.uuid4().hex[:8]}", IMAGE)
    docker("exec", name, "touch", MARKER)
    return name


def read_cmdlines() -> list[str]:
    """Every process command line on this machine, arguments joined by spaces."""
    lines = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(path.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            continue
    return lines


class CmdlineSampler:
    """Reads every process command line inside a container (and on this machine) over and
    over while a playbook runs, to catch a secret that is on a command line only for the
    second a command takes.

    One shell loop inside the container does the reading, one grep per round, for the
    whole run: a docker exec and a process per command line every round kept a core busy
    and slowed every other test running beside it."""

    STOP = "/run/celery-stack-test-sampler.stop"
    END = "--- end of round ---"

    def __init__(self, container: str, interval: float = 0.15):
        import threading
        self.container, self.interval = container, interval
        self.samples: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._proc = None

    def _run(self):
        inside: list[str] = []
        for raw in self._proc.stdout:
            line = raw.replace(b"\0", b" ").decode("utf-8", "replace").rstrip("\n")
            if line != self.END:
                inside.append(line)
                continue
            self.samples.append("\n".join(inside + read_cmdlines()))
            inside = []

    def __enter__(self):
        script = (f"rm -f {self.STOP}; while [ ! -e {self.STOP} ]; do "
                  f"grep -a -h '' /proc/[0-9]*/cmdline 2>/dev/null; echo '{self.END}'; sleep {self.interval}; done")
        self._proc = subprocess.Popen(["docker", "exec", self.container, "sh", "-c", script],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        docker("exec", self.container, "touch", self.STOP, check=False)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._thread.join()


def recap(result, host: str) -> dict:
    """The PLAY RECAP counts of one host (ok, changed, failed, ...)."""
    line = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", result.stdout, re.M)
    assert line, result.stdout[-3000:] + result.stderr[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


def app_python(container: str, script: str, *args: str, app: str = "test_celery") -> str:
    """Run a Python script (on stdin) on the host as the app's services would: the app's
    virtualenv, account and environment file. Returns its output; fails on an error."""
    result = docker("exec", "-i", container, "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
                    "--uid=celery", "--gid=celery", f"--property=EnvironmentFile=/etc/{app}/celery.env",
                    f"/opt/{app}/venv/bin/python", "-", *args, input=script, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def build_wheel(source: Path, out: Path) -> Path:
    """A wheel of a source tree, built on the controller as an operator would."""
    out.mkdir()
    pip = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)], check=True,
                   capture_output=True, text=True)
    (wheel,) = out.glob("*.whl")
    return wheel


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def publish(work: Path, container: str, path: str) -> None:
    """Copy a bare clone of the repository at work into the host at path, where pip clones
    it (file://)."""
    bare = work.parent / (Path(path).name)
    shutil.rmtree(bare, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(bare)], check=True)
    docker("exec", container, "rm", "-rf", path)
    docker("cp", str(bare), f"{container}:{path}")
