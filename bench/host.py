"""Containers with systemd: started, converged with site.yml, reached through `docker
exec`, and the workers run in them."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support import systemd_host  # noqa: E402


class BenchError(Exception):
    pass


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


class Host:
    def __init__(self, container: str):
        self.container = container

    def run(self, *argv: str, stdin: str | None = None, check: bool = True,
            timeout: float | None = 900) -> subprocess.CompletedProcess:
        cmd = ["docker", "exec", *(["-i"] if stdin is not None else []), self.container, *argv]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: "
                             f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        return proc

    def out(self, *argv: str, **kwargs) -> str:
        return self.run(*argv, **kwargs).stdout.strip()

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("systemctl", *args, check=check)

    def is_active(self, unit: str) -> bool:
        return self.systemctl("is-active", "--quiet", unit, check=False).returncode == 0

    def exists(self, unit: str) -> bool:
        return self.show(unit, "LoadState") == "loaded"

    def show(self, unit: str, prop: str) -> str:
        return self.out("systemctl", "show", "-p", prop, "--value", unit)

    def last_journal_line(self, unit: str, containing: str) -> str:
        """The unit's latest journal line holding `containing` (fixed text), or ''."""
        return self.out("sh", "-c", f"journalctl --no-pager -o cat -u {shlex.quote(unit)} | "
                        f"grep -F -- {shlex.quote(containing)} | tail -n 1", check=False)

    def copy(self, path: Path, directory: str) -> None:
        """A file of this machine into a directory of the container."""
        subprocess.run(["docker", "cp", str(path), f"{self.container}:{directory}/"],
                       check=True, capture_output=True)

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        self.run("sh", "-c", f'mkdir -p "$(dirname {shlex.quote(path)})" && '
                 f"cat > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}", stdin=text)


def container_running(name: str) -> bool:
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                           capture_output=True, text=True)
    return state.stdout.strip() == "true"


def start_container(name: str, image: str, *options: str, boot_timeout: float = 60) -> Host:
    """A container named `name` (its host name too) from `image`, systemd as PID 1, with
    further `docker run` options (tests/support/systemd_host.py, as the tests start theirs);
    returned once systemd has finished booting."""
    try:
        systemd_host.start(name, image, *options, boot_timeout=boot_timeout)
    except systemd_host.BootError as error:
        raise BenchError(str(error)) from error
    return Host(name)


# Where the container engine keeps a container's CPU time: cgroup v1 (cpuacct, in ns) under
# the cgroupfs or the systemd driver, or cgroup v2 (cpu.stat, usage_usec).
CGROUP_ROOT = Path("/sys/fs/cgroup")
_CGROUP_FILES = (
    ("cpuacct/docker/{id}/cpuacct.usage", 1e-9),
    ("cpu,cpuacct/docker/{id}/cpuacct.usage", 1e-9),
    ("cpuacct/system.slice/docker-{id}.scope/cpuacct.usage", 1e-9),
    ("system.slice/docker-{id}.scope/cpu.stat", 1e-6),
    ("docker/{id}/cpu.stat", 1e-6),
)


def cgroup_cpu_seconds(container_id: str, root: Path = CGROUP_ROOT) -> float | None:
    """CPU seconds every process of the container has used since it started (the
    engine's cgroup of it), or None where this machine does not show them."""
    for pattern, scale in _CGROUP_FILES:
        path = root / pattern.format(id=container_id)
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            fields = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
            if "usage_usec" not in fields:
                continue
            return int(fields["usage_usec"]) * scale
        return int(text.strip()) * scale
    return None


def container_cpu_seconds(name: str) -> float | None:
    """cgroup_cpu_seconds() of the container called `name`."""
    found = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True)
    return cgroup_cpu_seconds(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


def children_cpu_seconds() -> float:
    """User and system CPU seconds of the ended child processes of this one (and of theirs):
    around an ansible-playbook run, what the controller spent (its forks and the docker
    exec commands of its tasks included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_site(inventory: Path, log: Path, env: dict[str, str] | None = None,
             timeout: float = 3600) -> tuple[int, float]:
    """`ansible-playbook -i INVENTORY site.yml` of this checkout with the controller's
    virtualenv, its output into `log`; its exit code and wall time in seconds."""
    return run_playbook(inventory, log, "site.yml", env=env, timeout=timeout)


def run_playbook(inventory: Path, log: Path, playbook: str, args: Sequence[str] = (),
                 env: dict[str, str] | None = None,
                 timeout: float = 3600) -> tuple[int, float]:
    """`ansible-playbook -i INVENTORY PLAYBOOK ARGS...` (a path in this checkout), as
    run_site()."""
    run_env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
                   ANSIBLE_NOCOLOR="1", **(env or {}))
    command = shutil.which("ansible-playbook", path=run_env["PATH"]) or "ansible-playbook"
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([command, "-i", str(inventory), playbook, *args], cwd=ROOT,
                                env=run_env, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            # Interrupted (Ctrl-C, kill, the timeout): ansible-playbook stops its own
            # forks on SIGINT, which killed outright would go on working on the hosts.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    return proc.returncode, time.monotonic() - start


@dataclass
class WorkerSpec:
    """How the deployed unit runs the worker, read back from systemd."""
    argv: list[str]
    user: str
    group: str
    env_files: list[str]
    environment: list[str]
    workdir: str
    node: str

    @property
    def python(self) -> str:
        return str(Path(self.argv[0]).parent / "python")


def exec_start_argv(exec_start: str) -> list[str]:
    """The command line in `systemctl show -p ExecStart`:
    "{ path=/x/celery ; argv[]=/x/celery -A app worker ... ; ignore_errors=no ; ... }"."""
    try:
        return exec_start.split("argv[]=", 1)[1].split(" ; ", 1)[0].split()
    except IndexError:
        raise BenchError(f"cannot read the command line in {exec_start!r}") from None


def node_name(argv: list[str], hostname: str) -> str:
    """The worker's node name: its --hostname (-n) template filled in, celery@%h by default."""
    template = "celery@%h"
    for i, arg in enumerate(argv):
        if arg.startswith("--hostname="):
            template = arg.split("=", 1)[1]
        elif arg in ("-n", "--hostname") and i + 1 < len(argv):
            template = argv[i + 1]
    name, _, domain = hostname.partition(".")
    return template.replace("%h", hostname).replace("%n", name).replace("%d", domain)


def read_worker_spec(host: Host, unit: str) -> WorkerSpec:
    argv = exec_start_argv(host.show(unit, "ExecStart"))
    if not argv or not argv[0].endswith("/celery") or "worker" not in argv:
        raise BenchError(f"{unit} does not run `celery ... worker`: {' '.join(argv)!r}")
    env_files = [line.split(" (", 1)[0].lstrip("-")
                 for line in host.show(unit, "EnvironmentFiles").splitlines() if line.strip()]
    return WorkerSpec(
        argv=argv,
        user=host.show(unit, "User") or "root",
        group=host.show(unit, "Group") or "root",
        env_files=env_files,
        environment=shlex.split(host.show(unit, "Environment")),
        workdir=host.show(unit, "WorkingDirectory").lstrip("-!~") or "/",
        node=node_name(argv, host.out("hostname")),
    )


def without_options(argv: list[str], names: set[str]) -> list[str]:
    """argv without the given options, in --opt=value, --opt value and -o value forms."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in names:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


# --- the two kinds of worker: the deployed unit and a transient unit started by hand ----------

class DeployedWorker:
    def __init__(self, host: Host, unit: str):
        self.host, self.unit = host, unit

    def start(self) -> None:
        self.host.systemctl("start", self.unit)

    def stop(self) -> None:
        self.host.systemctl("stop", self.unit)


# Every transient unit the bench starts is named bench-*, so that putting the demo back
# can stop whatever an interrupted run left running with one pattern.
TRANSIENT_UNITS = "bench-*"


class HandWorker:
    """The worker started by hand, as the transient unit bench-<name>: same command,
    user and settings as the deployed unit, none of its hardening.

    `overrides` (NAME=value) are set on the command line through env(1): systemd lets
    an EnvironmentFile= win over Environment=, and the deployed environment file may set
    the very variables a side of a comparison changes.
    """

    def __init__(self, host: Host, name: str, spec: WorkerSpec,
                 overrides: Sequence[str] = ()):
        self.host, self.unit, self.spec = host, f"bench-{name}", spec
        self.overrides = list(overrides)

    def start(self) -> None:
        self.host.systemctl("reset-failed", self.unit, check=False)
        args = ["systemd-run", "--quiet", f"--unit={self.unit}",
                f"--uid={self.spec.user}", f"--gid={self.spec.group}",
                f"--working-directory={self.spec.workdir}"]
        for env_file in self.spec.env_files:
            args += ["-p", f"EnvironmentFile={env_file}"]
        for assignment in self.spec.environment:
            args += ["-p", f"Environment={assignment}"]
        self.host.run(*args, *with_env(self.overrides, self.spec.argv))

    def stop(self) -> None:
        self.host.systemctl("stop", self.unit, check=False)
        self.host.systemctl("reset-failed", self.unit, check=False)


def with_env(assignments: Sequence[str], argv: list[str]) -> list[str]:
    """argv run through env(1) with the assignments, or argv itself when there are none."""
    return ["/usr/bin/env", *assignments, *argv] if assignments else list(argv)
