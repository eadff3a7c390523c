"""Hosts of the bench's own, converged with the real site.yml: a broker, a worker and a
monitor, what figure 5 is measured on (MONITORING), and three clustered brokers and a
worker, what figure 8 is measured on (CLUSTER). A Shape says which parts a layout has.

On the demo container Flower ran beside the worker, on the same cores, so what it
spends consuming events counted as a cost of monitoring to the worker. Here it runs on a
host of its own, as in inventory/example, and that host has CPUs of its own as well
(BENCH_MONITOR_CPUS): containers alone would still share every core of this machine.

Every name carries a fresh id (containers, their host names, the network), so that other
test runs on this machine, which use fixed names of their own at the same time, never
meet these hosts. prepared_layout() removes the containers and the network on the way
out, whatever happened; they also carry the label LABEL, to find what a killed run left.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from demo import Demo, flower_healthcheck_url, install_bench
from host import BenchError, Host, read_worker_spec, run_site, say, start_container

LABEL = "celery-stack.bench-layout"
# Each part of figure 5's layout and the inventory group it is in.
PARTS = {"broker": "rabbitmq", "worker": "celery_workers", "monitor": "flower"}
# Where the bundled app's record_run notes each start and finish on a worker host (its
# unit's StateDirectory, writable under ProtectSystem=strict): figure 8's ledger.
RECORD_DIR = "/var/lib/celery-worker"
# The names the inventory gives the app's broker account and Flower's API account.
BROKER_USER = BROKER_VHOST = "bench"
MONITOR_USER = "flower_monitor"


@dataclass(frozen=True)
class Shape:
    """What a layout is made of: each part (a host) and its inventory group, and the
    variables of a group that only this layout needs, over the common ones."""
    parts: dict[str, str]
    group_vars: dict[str, dict] = field(default_factory=dict)

    @property
    def groups(self) -> dict[str, list[str]]:
        """Each group and its parts, in the order of the parts."""
        found: dict[str, list[str]] = {}
        for part, group in self.parts.items():
            found.setdefault(group, []).append(part)
        return found


# Figure 5: Flower on a host of its own, beside one broker and one worker.
MONITORING = Shape(PARTS)
# Figure 8: a cluster of three brokers (the rabbitmq role clusters every host of its
# group) and one worker, whose tasks note their runs for the ledger. No Flower: the site
# does not need one.
CLUSTER = Shape(
    {"broker1": "rabbitmq", "broker2": "rabbitmq", "broker3": "rabbitmq",
     "worker": "celery_workers"},
    {"celery_workers": {"celery_app_environment": {"TEST_CELERY_RECORD_DIR": RECORD_DIR}}})


@dataclass(frozen=True)
class Names:
    """The layout's names, all from one id: `bench-<id>` and `bench-<id>-<part>`."""
    run_id: str
    parts: tuple[str, ...] = tuple(PARTS)

    @classmethod
    def fresh(cls, parts: tuple[str, ...] = tuple(PARTS)) -> Names:
        return cls(uuid.uuid4().hex[:8], parts)

    @property
    def network(self) -> str:
        return f"bench-{self.run_id}"

    def host(self, part: str) -> str:
        return f"bench-{self.run_id}-{part}"

    @property
    def hosts(self) -> dict[str, str]:
        return {part: self.host(part) for part in self.parts}


def parse_cpus(text: str) -> set[int]:
    """'0', '0,2' or '0-3' (docker's --cpuset-cpus forms) as a set of CPU numbers."""
    cpus: set[int] = set()
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        first, _, last = item.partition("-")
        try:
            cpus.update(range(int(first), int(last or first) + 1))
        except ValueError:
            raise BenchError(f"BENCH_MONITOR_CPUS: {text!r} is not a CPU list such as 0 "
                             "or 0-1") from None
    return cpus


def cpusets(machine_cpus: int, monitor_cpus: str,
            parts: tuple[str, ...] = tuple(PARTS)) -> dict[str, str | None]:
    """Each part's --cpuset-cpus: the monitor those given, the other parts the rest of
    the machine's; None everywhere (no pinning) for an empty setting, a machine of one
    CPU, where there is nothing to split, or a layout without a monitor."""
    monitor = parse_cpus(monitor_cpus)
    if not monitor or machine_cpus < 2 or "monitor" not in parts:
        return dict.fromkeys(parts)
    every = set(range(machine_cpus))
    if not monitor <= every:
        raise BenchError(f"BENCH_MONITOR_CPUS={monitor_cpus}: this machine has CPUs "
                         f"0-{machine_cpus - 1}")
    rest = every - monitor
    if not rest:
        raise BenchError(f"BENCH_MONITOR_CPUS={monitor_cpus} leaves no CPU for the broker "
                         "and the worker")

    def listed(cpus: set[int]) -> str:
        return ",".join(str(cpu) for cpu in sorted(cpus))
    return {part: listed(monitor if part == "monitor" else rest) for part in parts}


def inventory(names: Names, secret: dict[str, str],
              shape: Shape = MONITORING) -> dict[str, dict]:
    """The generated inventory, file by file: each part in its group, plain AMQP on the
    network of the layout's own, the variables a valid inventory needs (as the
    integration tests' base_vars), the demo's worker settings (concurrency 2, log level
    info) so that the figures compare with the demo's others, Flower's when the layout
    has a monitor, and the shape's own."""
    groups = shape.groups
    hosts = {"all": {"children": {group: {"hosts": {names.host(part): None for part in parts}}
                                  for group, parts in groups.items()}}}
    files = {
        "hosts.yml": hosts,
        "group_vars/all.yml": {
            "ansible_connection": "community.docker.docker",
            "ansible_python_interpreter": "/usr/bin/python3",
            "celery_app_name": "test_celery",
            "celery_app_broker_user": BROKER_USER,
            "celery_app_broker_vhost": BROKER_VHOST,
            "celery_app_broker_password": secret["broker"],
            "celery_app_broker_tags": [],
        },
        "group_vars/rabbitmq.yml": {
            "rabbitmq_erlang_cookie": secret["cookie"],
            # AMQP listens on every address by default; the management API, which Flower
            # reads queue lengths from, on the broker's address on the layout's network
            # (the only one the container has), not on loopback.
            "rabbitmq_management_address": "{{ ansible_facts['default_ipv4']['address'] }}",
        },
        "group_vars/celery_workers.yml": {
            "celery_worker_concurrency": 2,
            "celery_worker_loglevel": "info",
        },
    }
    if "flower" in groups:
        merge(files, monitor_vars(names.host(groups["rabbitmq"][0]), secret))
    merge(files, {f"group_vars/{group}.yml": variables
                  for group, variables in shape.group_vars.items()})
    return files


def merge(files: dict[str, dict], more: dict[str, dict]) -> None:
    """Add the variables of `more` to those of the same file in `files`."""
    for name, variables in more.items():
        files[name] = {**files.get(name, {}), **variables}


def monitor_vars(broker: str, secret: dict[str, str]) -> dict[str, dict]:
    """Flower's settings, and its read-only account on the broker for queue lengths."""
    return {
        "group_vars/rabbitmq.yml": {
            "rabbitmq_users": [{
                "name": MONITOR_USER, "password": secret["monitor"], "tags": ["monitoring"],
                "permissions": [{"vhost": BROKER_VHOST, "configure": "^$", "write": "^$",
                                 "read": "^$"}],
            }],
        },
        "group_vars/flower.yml": {
            "flower_basic_auth": [{"username": "admin", "password": secret["flower"]}],
            "flower_address": "127.0.0.1",
            "flower_broker_api_url": f"http://{broker}:15672/api/",
            "flower_broker_api_user": MONITOR_USER,
            "flower_broker_api_password": secret["monitor"],
        },
    }


def write_inventory(directory: Path, files: dict[str, dict]) -> Path:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\n# Written by bench/layout.py for one benchmark run.\n"
                        + yaml.safe_dump(content, sort_keys=False))
        path.chmod(0o600)  # it holds the run's secrets
    return directory / "hosts.yml"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def machine_cpus() -> int:
    answer = docker("info", "--format", "{{.NCPU}}").stdout.strip()
    return int(answer) if answer.isdigit() else 1


@contextmanager
def made_hosts(shape: Shape, image: str, monitor_cpus: str, log: Path,
               teardown_errors: list[str]) -> Iterator[tuple[Names, dict, Path]]:
    """The shape's network and containers, of a fresh id, converged with site.yml;
    removed on the way out. Yields the names, what the results file should say about
    them, and the generated inventory (for further playbooks; removed with the hosts)."""
    names = Names.fresh(tuple(shape.parts))
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{names.run_id}-"))
    try:
        cpus = cpusets(machine_cpus(), monitor_cpus, names.parts)
        say(f"layout: network {names.network}, hosts " + ", ".join(
            f"{name} ({part}, CPUs {cpus[part] or 'all'})"
            for part, name in names.hosts.items()))
        created = docker("network", "create", "--label", f"{LABEL}={names.run_id}",
                         names.network)
        if created.returncode != 0:
            raise BenchError(f"docker network create {names.network}: "
                             f"{created.stderr.strip()}")
        for part, name in names.hosts.items():
            pinned = ["--cpuset-cpus", cpus[part]] if cpus[part] else []
            start_container(name, image, "--network", names.network,
                            "--label", f"{LABEL}={names.run_id}", *pinned)
        secret = {key: secrets.token_hex(16)
                  for key in ("broker", "cookie", "monitor", "flower")}
        hosts_file = write_inventory(workdir / "inventory", inventory(names, secret, shape))
        say(f"layout: ansible-playbook site.yml on the {len(names.parts)} hosts (log: {log})")
        returncode, seconds = run_site(hosts_file, log)
        if returncode != 0:
            raise BenchError(f"converging the layout failed (exit {returncode}), see {log}")
        say(f"layout: converged in {seconds:.0f} s")
        yield names, {"network": names.network, "hosts": names.hosts, "cpus": cpus,
                      "image": image, "converge_seconds": round(seconds, 1),
                      "converge_log": str(log)}, hosts_file
    finally:
        with interrupts_held():
            remove(names, teardown_errors)
            shutil.rmtree(workdir, ignore_errors=True)


def remove(names: Names, errors: list[str]) -> None:
    """The layout's containers, then its network; only names of this run, never others.
    A step that fails is said and appended to `errors`, and the next one still tried."""
    steps = [(f"remove container {name}", ("rm", "-f", name), "No such container")
             for name in names.hosts.values()]
    steps.append((f"remove network {names.network}", ("network", "rm", names.network),
                  "not found"))
    for what, args, gone in steps:
        try:
            proc = docker(*args)
        except (subprocess.SubprocessError, OSError) as error:
            proc = subprocess.CompletedProcess(args, 1, "", str(error))
        if proc.returncode != 0 and gone not in proc.stderr:
            say(f"teardown: {what} failed: {proc.stderr.strip()}")
            errors.append(f"teardown: {what}: {proc.stderr.strip()}")
    say(f"layout {names.network} removed")


@contextmanager
def interrupts_held() -> Iterator[None]:
    """A second Ctrl-C must not cut the removal short and leave containers behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def prepared_layout(image: str, monitor_cpus: str, worker_unit: str, flower_unit: str,
                    log: Path, teardown_errors: list[str]) -> Iterator[Demo]:
    """The three hosts converged, the bench's tasks loaded in the worker's unit, the
    driver on the worker and monitor hosts, the worker and Flower stopped (every run
    starts its own); everything removed on the way out."""
    with made_hosts(MONITORING, image, monitor_cpus, log, teardown_errors) as (
            names, about, _):
        worker, monitor = Host(names.host("worker")), Host(names.host("monitor"))
        for host, unit in ((worker, worker_unit), (monitor, flower_unit)):
            if not host.exists(unit):
                raise BenchError(f"{unit}.service is not installed in {host.container}")
        install_bench(worker, worker_unit)
        install_bench(monitor)  # the driver checks Flower where Flower listens
        monitor.systemctl("stop", flower_unit)
        worker.systemctl("stop", worker_unit)
        state = (monitor.show(flower_unit, "StateDirectory") or flower_unit).split()[0]
        demo = Demo(worker, worker_unit, flower_unit,
                    flower_url=flower_healthcheck_url(monitor.show(flower_unit, "ExecStart")),
                    flower_state_dir=f"/var/lib/{state}", flower_host=monitor,
                    broker_host=Host(names.host("broker")), about=about)
        demo.spec = read_worker_spec(worker, worker_unit)
        say(f"worker {demo.spec.node}: {' '.join(demo.spec.argv[1:])}")
        yield demo


@contextmanager
def prepared_cluster(image: str, worker_unit: str, log: Path,
                     teardown_errors: list[str]) -> Iterator[Demo]:
    """Three clustered brokers and a worker, converged; the driver on the worker host, and
    the deployed worker left running, as deployed (figure 8 restarts the brokers under
    it); everything removed on the way out. The Demo's broker is the first broker, and it
    carries the inventory, for playbooks/rabbitmq-restart.yml."""
    with made_hosts(CLUSTER, image, "", log, teardown_errors) as (names, about, hosts_file):
        worker = Host(names.host("worker"))
        if not worker.exists(worker_unit):
            raise BenchError(f"{worker_unit}.service is not installed in {worker.container}")
        install_bench(worker)
        brokers = [names.host(part) for part, group in CLUSTER.parts.items()
                   if group == "rabbitmq"]
        demo = Demo(worker, worker_unit, flower_unit="", flower_url="", flower_state_dir="",
                    broker_host=Host(brokers[0]), about={**about, "brokers": brokers},
                    inventory=hosts_file)
        demo.spec = read_worker_spec(worker, worker_unit)
        say(f"worker {demo.spec.node}: {' '.join(demo.spec.argv[1:])}")
        yield demo
