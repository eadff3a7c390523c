"""The demo container, prepared for the figures measured in it and put back afterwards.

prepared_demo() is the only place that changes the demo: whatever a figure does, and
whatever it raises, leaving the `with` block puts the demo back as it was found.

`Demo` drives a deployment whichever hosts it spans: in the demo one container plays the
broker, the worker and Flower; layout.prepared_layout() gives it three (figure 5).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import report
from host import (TRANSIENT_UNITS, BenchError, DeployedWorker, HandWorker, Host, WorkerSpec,
                  container_running, read_worker_spec, say, with_env)

BENCH = Path(__file__).resolve().parent
REMOTE_DIR = "/opt/bench"  # readable under the unit's ProtectSystem=strict
COPIED = ("benchtasks.py", "driver.py")
DROP_IN_DIR = "/etc/systemd/system/{unit}.service.d"
DROP_IN = "bench.conf"
FLOWER_BACKUP = "/root/bench-flower-state.tar"
FLOWER_SETTLE_S = 2.0


@dataclass
class Demo:
    """The prepared deployment: the deployed worker's settings, the driver, the bench's
    queues. `host` runs the worker and the driver; Flower and the broker run there too
    unless `flower_host` and `broker_host` say otherwise."""
    host: Host
    worker_unit: str
    flower_unit: str
    flower_url: str  # Flower's /healthcheck, as seen on its own host
    flower_state_dir: str
    spec: WorkerSpec | None = None  # read once the drop-in is in place
    # Queues (and their exchanges, named alike) the bench declares, deleted at the end.
    queues: list[str] = field(default_factory=list)
    driver_runs: int = 0
    flower_host: Host | None = None
    broker_host: Host | None = None
    # What else the results file should say about where this ran.
    about: dict = field(default_factory=dict)
    # The inventory of hosts the bench made itself (layout.py), for playbooks run on them.
    inventory: Path | None = None

    def __post_init__(self):
        self.flower_host = self.flower_host or self.host
        self.broker_host = self.broker_host or self.host

    def driver(self, *args: str, env: Sequence[str] = (), timeout: int = 1800,
               host: Host | None = None) -> dict:
        """Run driver.py as the app's user with its settings, on the worker's host unless
        `host` is given (the app is deployed alike wherever it runs); `env`
        (NAME=value) overrides the settings (through env(1), see HandWorker)."""
        _, command = self.driver_command(args, env, timeout)
        proc = (host or self.host).run(*command, check=False, timeout=timeout + 60)
        return driver_answer(args[0], proc.stdout, proc.returncode, proc.stderr)

    def driver_command(self, args: Sequence[str], env: Sequence[str] = (),
                       timeout: int = 1800) -> tuple[str, list[str]]:
        """The transient unit that runs driver.py (see driver()), and its command line."""
        spec = self.spec
        self.driver_runs += 1
        unit = f"bench-driver-{os.getpid()}-{self.driver_runs}"
        cmd = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", f"--unit={unit}",
               f"--uid={spec.user}", f"--gid={spec.group}",
               "-p", f"RuntimeMaxSec={timeout}",
               "-p", f"Environment=PYTHONPATH={REMOTE_DIR}",
               "-p", "Environment=PYTHONDONTWRITEBYTECODE=1"]
        for env_file in spec.env_files:
            cmd += ["-p", f"EnvironmentFile={env_file}"]
        return unit, cmd + with_env(env, [spec.python, f"{REMOTE_DIR}/driver.py", *args])

    def started_driver(self, *args: str, timeout: int = 1800) -> tuple[str, subprocess.Popen]:
        """driver.py started in the background on the worker's host: its unit (stop it
        with `systemctl kill`) and the process whose output (standard output and error)
        is the driver's."""
        unit, command = self.driver_command(args, timeout=timeout)
        proc = subprocess.Popen(["docker", "exec", self.host.container, *command],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return unit, proc

    def deployed(self) -> DeployedWorker:
        return DeployedWorker(self.host, self.worker_unit)

    def by_hand(self, name: str, args: list[str] | None = None,
                overrides: Sequence[str] = ()) -> HandWorker:
        """The deployed worker's command line (or `args` in its place), started by hand."""
        spec = self.spec if args is None else replace(self.spec, argv=args)
        return HandWorker(self.host, name, spec, overrides)

    def own_queue(self, name: str) -> str:
        """Note a queue the bench is about to declare, so that it is deleted at the end."""
        if name not in self.queues:
            self.queues.append(name)
        return name

    @contextmanager
    def running(self, worker: DeployedWorker | HandWorker, env: Sequence[str] = (),
                monitored: bool = False) -> Iterator[dict]:
        """A fresh worker, answering pings, with task events switched off, or on and
        Flower running (on its own host) when `monitored`; stopped on the way out. Yields
        its pool, concurrency and prefetch. Switching off reaches only events that were
        switched on remotely, not a command line's --task-events (figures/monitoring.py)."""
        try:
            worker.start()
            info = self.driver("ping", "--node", self.spec.node, "--timeout", "90", env=env)
            if monitored:
                self.flower_host.systemctl("start", self.flower_unit)
                self.driver("http-ready", "--url", self.flower_url, "--timeout", "90",
                            host=self.flower_host)
                self.driver("events", "on")  # what Flower does every few seconds, made certain
                time.sleep(FLOWER_SETTLE_S)  # Flower's own start-up (state, first inspect) done
            else:
                self.driver("events", "off")
            yield {k: info[k] for k in ("pool", "concurrency", "prefetch_count")}
        finally:
            if monitored:
                self.flower_host.systemctl("stop", self.flower_unit)
            worker.stop()

    def drain(self, tasks: int, env: Sequence[str] = (), task: str = "noop") -> dict:
        """Publish a batch of `tasks` (benchtasks.noop, or another filler of the driver's),
        then time how fast the running worker drains it."""
        return self.driver("drain", "--node", self.spec.node, "--tasks", str(tasks),
                           "--task", task, env=env)

    def latency(self, count: int, warmup: int, env: Sequence[str] = ()) -> dict:
        """`count` sequential round trips after `warmup` ones, summed up."""
        answer = self.driver("latency", "--count", str(count), "--warmup", str(warmup),
                             env=env)
        return report.latency_run(answer["samples_ms"])

    def describe(self) -> dict:
        """The worker and the versions measured, for the results file."""
        spec = self.spec
        # Flower is installed only where it runs (figure 8's layout has none).
        versions = self.flower_host.out(
            spec.python, "-c", "import celery, kombu\n"
            "try:\n    from flower import __version__ as flower\n"
            "except ImportError:\n    flower = '-'\n"
            "print(celery.__version__, kombu.__version__, flower)")
        return {
            "worker": {"node": spec.node, "argv": spec.argv, "user": spec.user,
                       "env_files": spec.env_files},
            "versions": dict(zip(("celery", "kombu", "flower"), versions.split()),
                             rabbitmq=self.broker_host.out("rabbitmqctl", "version",
                                                           check=False)),
            **self.about,
        }


def driver_answer(command: str, stdout: str, returncode: int, stderr: str = "") -> dict:
    """The driver's answer: the last line of its output that is a JSON object."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"driver {command} gave no answer (exit {returncode}): "
                         f"{stderr.strip()[-800:]}")
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        raise BenchError(f"driver {command}: {answer.get('error')} {answer}")
    return answer


def flower_healthcheck_url(exec_start: str) -> str:
    """Flower's /healthcheck on this host, from the --address, --port and --url_prefix of
    its command line (`systemctl show -p ExecStart`)."""
    opts = dict(arg[2:].split("=", 1) for arg in exec_start.split()
                if arg.startswith("--") and "=" in arg)
    address = opts.get("address", "127.0.0.1")
    if address in ("", "0.0.0.0", "::"):
        address = "127.0.0.1"
    prefix = opts.get("url_prefix", "").strip("/")
    path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
    return f"http://{address}:{opts.get('port', '5555')}{path}"


def alternate(pairs: int, sides: dict[str, Callable[[], dict]],
              describe: Callable[[dict], str]) -> dict[str, list[dict]]:
    """Every side once a round, in the order given, `pairs` rounds: A B A B ...

    The machine is noisy; sides measured back to back see the same noise, and their
    ratio is what the figures quote."""
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for round_no in range(1, pairs + 1):
        for name, measure in sides.items():
            runs[name].append(measure())
            say(f"  round {round_no} {name:14s} {describe(runs[name][-1])}")
    return runs


# --- preparing and putting back ----------------------------------------------------------

@contextmanager
def prepared_demo(container: str, worker_unit: str, flower_unit: str,
                  restore_errors: list[str]) -> Iterator[Demo]:
    """The demo with the bench's tasks loaded in the worker's unit, the worker and Flower
    stopped and Flower's state saved; put back on the way out, whatever happened.

    A step of putting back that fails is said and appended to restore_errors, and the
    next ones are still tried.
    """
    host = Host(container)
    if not container_running(container):
        raise BenchError(f"container {container} is not running (make demo)")
    for unit in (worker_unit, flower_unit):
        if not host.exists(unit):
            raise BenchError(f"{unit}.service is not installed in {container}")
    found = {unit: host.is_active(unit) for unit in (worker_unit, flower_unit)}
    say(f"found in {container}: " + ", ".join(
        f"{u} {'active' if a else 'inactive'}" for u, a in found.items()))
    state = (host.show(flower_unit, "StateDirectory") or flower_unit).split()[0]
    demo = Demo(host, worker_unit, flower_unit,
                flower_url=flower_healthcheck_url(host.show(flower_unit, "ExecStart")),
                flower_state_dir=f"/var/lib/{state}")
    try:
        _install(demo)
        demo.spec = read_worker_spec(host, worker_unit)
        say(f"worker {demo.spec.node}: {' '.join(demo.spec.argv[1:])}")
        yield demo
    finally:
        _restore(demo, found, restore_errors)


def install_bench(host: Host, worker_unit: str | None = None) -> None:
    """The driver and the tasks in /opt/bench on `host`; with `worker_unit`, also the
    drop-in that loads the tasks into the deployed worker."""
    host.run("mkdir", "-p", REMOTE_DIR)
    for name in COPIED:
        host.copy(BENCH / name, REMOTE_DIR)
    host.run("chmod", "-R", "u=rwX,go=rX", REMOTE_DIR)
    host.run("chown", "-R", "root:root", REMOTE_DIR)
    if worker_unit is None:
        return

    # The deployed worker keeps its unit, hardening included; the drop-in only adds the
    # bench module to its environment (Celery's CLI reads CELERY_WORKER_INCLUDE as
    # `worker --include`).
    host.write(f"{DROP_IN_DIR.format(unit=worker_unit)}/{DROP_IN}",
               "# Written by bench/bench.py for the length of a benchmark run; removed "
               "at its end.\n[Service]\n"
               f"Environment=PYTHONPATH={REMOTE_DIR}\n"
               "Environment=CELERY_WORKER_INCLUDE=benchtasks\n"
               "Environment=PYTHONDONTWRITEBYTECODE=1\n")
    host.systemctl("daemon-reload")


def _install(demo: Demo) -> None:
    host = demo.host
    install_bench(host, demo.worker_unit)

    # Flower keeps what it saw across restarts: save its state to put it back, so that
    # its task list does not fill with benchmark tasks.
    host.systemctl("stop", demo.flower_unit)
    host.run("sh", "-c", f"test ! -d {demo.flower_state_dir} || tar -C /var/lib -cf "
             f"{FLOWER_BACKUP} {Path(demo.flower_state_dir).name}")
    host.systemctl("stop", demo.worker_unit)


def _restore(demo: Demo, found: dict[str, bool], errors: list[str]) -> None:
    """Put the demo back as it was found; every step is tried even if one fails."""
    host = demo.host
    drop_in_dir = DROP_IN_DIR.format(unit=demo.worker_unit)
    steps = [
        ("stop the bench's drivers and workers",
         lambda: host.systemctl("stop", TRANSIENT_UNITS, check=False)),
        ("drop leftover bench tasks", lambda: _purge_leftovers(demo)),
        ("delete the bench's queues", lambda: _delete_queues(demo)),
        ("stop Flower", lambda: host.systemctl("stop", demo.flower_unit, check=False)),
        ("put back Flower's state", lambda: host.run("sh", "-c",
            f"test ! -f {FLOWER_BACKUP} || {{ rm -rf {demo.flower_state_dir} && "
            f"tar -C /var/lib -xf {FLOWER_BACKUP} && rm -f {FLOWER_BACKUP}; }}")),
        ("remove the drop-in", lambda: host.run("rm", "-f", f"{drop_in_dir}/{DROP_IN}")),
        ("remove an empty drop-in directory", lambda: host.run(
            "rmdir", "--ignore-fail-on-non-empty", drop_in_dir, check=False)),
        ("daemon-reload", lambda: host.systemctl("daemon-reload")),
        ("remove /opt/bench", lambda: host.run("rm", "-rf", REMOTE_DIR)),
    ]
    for unit, was_active in found.items():
        action = "restart" if was_active else "stop"
        steps.append((f"{action} {unit}", lambda u=unit, a=action: host.systemctl(a, u)))
    for what, step in steps:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - keep putting things back
            say(f"restore: {what} failed: {error}")
            errors.append(f"restore: {what}: {error}")
    say(f"{host.container} restored: " + ", ".join(
        f"{u} {'active' if host.is_active(u) else 'inactive'}" for u in found))


def _purge_leftovers(demo: Demo) -> None:
    """Remove benchmark tasks an interrupted run left in the app's own queue."""
    if demo.spec is None:  # the driver cannot run: nothing was sent either
        return
    # The worker must not take leftovers while they are removed.
    demo.host.systemctl("stop", demo.worker_unit, check=False)
    answer = demo.driver("purge", timeout=300)
    if answer.get("removed"):
        say(f"removed {answer['removed']} leftover bench tasks from the queue")


def _delete_queues(demo: Demo) -> None:
    if demo.spec is None or not demo.queues:
        return
    demo.driver("delete", *demo.queues, timeout=300)
    say(f"deleted the bench's queues and exchanges: {', '.join(demo.queues)}")
