"""The benchmark suite behind `make bench` (bench/run.sh): five figures, each with a target.

1. throughput: the deployed celery-worker.service against the same worker started by hand
   (same virtualenv, settings, arguments and broker, without the unit's hardening), and
   the deployed default against the best configuration found on this box (the ceiling);
2. latency: sequential add(1, 1) round trips through the rpc backend, deployed vs by hand;
3. converge: a cold site.yml converge of a fresh container, then the idempotent second run;
4. test cycle: `molecule test` for the default scenario, per step;
5. monitoring cost: throughput with task events on and Flower running vs events off.

Every comparison alternates its sides (A B A B ...) and quotes medians and ranges. The
demo container is left as it was found: the bench files and the drop-in are removed, the
worker and Flower restarted, Flower's saved state put back. See bench/README.md.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import molecule_log
import report

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
REMOTE_DIR = "/opt/bench"  # readable under the unit's ProtectSystem=strict
DROP_IN_DIR = "/etc/systemd/system/{unit}.service.d"
DROP_IN = "bench.conf"
FLOWER_BACKUP = "/root/bench-flower-state.tar"
BYHAND_UNIT = "bench-byhand"
CEILING_UNIT = "bench-ceiling"
CONVERGE_CONTAINER = "bench-converge"
FLOWER_SETTLE_S = 2.0


class BenchError(Exception):
    pass


def env_int(name: str, default: int, minimum: int = 1) -> int:
    value = int(os.environ.get(name, "") or default)
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass
class Config:
    container: str = os.environ.get("BENCH_CONTAINER", "celery-demo")
    tasks: int = env_int("BENCH_TASKS", 20000, minimum=3)
    pairs: int = env_int("BENCH_PAIRS", 3)
    roundtrips: int = env_int("BENCH_ROUNDTRIPS", 1000)
    warmup: int = env_int("BENCH_WARMUP", 100, minimum=0)
    figures: set[str] = field(default_factory=lambda: set(
        os.environ.get("BENCH_FIGURES", "1,2,3,4,5").replace(" ", "").split(",")))
    worker_unit: str = os.environ.get("BENCH_WORKER_UNIT", "celery-worker")
    flower_unit: str = os.environ.get("BENCH_FLOWER_UNIT", "flower")
    ceiling_args: list[str] = field(default_factory=lambda: shlex.split(
        os.environ.get("BENCH_CEILING_ARGS", "--pool=solo --loglevel=WARNING")))
    ceiling_env: list[str] = field(default_factory=lambda: shlex.split(
        os.environ.get("BENCH_CEILING_ENV", "CELERY_WORKER_PREFETCH_MULTIPLIER=0")))
    image: str = os.environ.get("BENCH_IMAGE", "celery-stack/debian-systemd:12")
    molecule_log: str = os.environ.get("BENCH_MOLECULE_LOG", "")
    # On by default so `make bench` prints every figure; 0 skips it (e.g. while another
    # Molecule run uses the same container names).
    run_molecule: bool = os.environ.get("BENCH_RUN_MOLECULE", "1") == "1"
    molecule_scenario: str = os.environ.get("BENCH_MOLECULE_SCENARIO", "default")
    results: Path = Path(os.environ.get("BENCH_RESULTS", BENCH / "results"))
    stamp: str = os.environ.get("BENCH_STAMP") or datetime.now(timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")

    def public(self) -> dict:
        return {k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
                for k, v in self.__dict__.items()}


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the host (a container with systemd) -----------------------------------------------------

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
        state = self.out("systemctl", "show", "-p", "LoadState", "--value", unit)
        return state == "loaded"

    def show(self, unit: str, prop: str) -> str:
        return self.out("systemctl", "show", "-p", prop, "--value", unit)

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        self.run("sh", "-c", f'mkdir -p "$(dirname {shlex.quote(path)})" && '
                 f"cat > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}", stdin=text)


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


def read_worker_spec(host: Host, unit: str) -> WorkerSpec:
    exec_start = host.show(unit, "ExecStart")
    # "{ path=/x/celery ; argv[]=/x/celery -A app worker ... ; ignore_errors=no ; ... }"
    try:
        argv_text = exec_start.split("argv[]=", 1)[1].split(" ; ", 1)[0]
    except IndexError:
        raise BenchError(f"cannot read ExecStart of {unit}: {exec_start!r}") from None
    argv = argv_text.split()
    if not argv or not argv[0].endswith("/celery") or "worker" not in argv:
        raise BenchError(f"{unit} does not run `celery ... worker`: {argv_text!r}")
    env_files = [line.split(" (", 1)[0].lstrip("-")
                 for line in host.show(unit, "EnvironmentFiles").splitlines() if line.strip()]
    hostname = host.out("hostname")
    node_template = "celery@%h"
    for i, arg in enumerate(argv):
        if arg.startswith("--hostname="):
            node_template = arg.split("=", 1)[1]
        elif arg in ("-n", "--hostname") and i + 1 < len(argv):
            node_template = argv[i + 1]
    name, _, domain = hostname.partition(".")
    node = node_template.replace("%h", hostname).replace("%n", name).replace("%d", domain)
    return WorkerSpec(
        argv=argv,
        user=host.show(unit, "User") or "root",
        group=host.show(unit, "Group") or "root",
        env_files=env_files,
        environment=shlex.split(host.show(unit, "Environment")),
        workdir=host.show(unit, "WorkingDirectory").lstrip("-!~") or "/",
        node=node,
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
    def __init__(self, host: Host, unit: str, label: str = "deployed"):
        self.host, self.unit, self.label = host, unit, label

    def start(self) -> None:
        self.host.systemctl("start", self.unit)

    def stop(self) -> None:
        self.host.systemctl("stop", self.unit)


class HandWorker:
    """The worker started by hand: same command, user, settings, no unit hardening."""

    def __init__(self, host: Host, unit: str, spec: WorkerSpec, label: str):
        self.host, self.unit, self.spec, self.label = host, unit, spec, label

    def start(self) -> None:
        self.host.systemctl("reset-failed", self.unit, check=False)
        props = [f"EnvironmentFile={f}" for f in self.spec.env_files]
        props += [f"Environment={e}" for e in self.spec.environment]
        args = ["systemd-run", "--quiet", f"--unit={self.unit}",
                f"--uid={self.spec.user}", f"--gid={self.spec.group}",
                f"--working-directory={self.spec.workdir}"]
        for prop in props:
            args += ["-p", prop]
        self.host.run(*args, *self.spec.argv)

    def stop(self) -> None:
        self.host.systemctl("stop", self.unit, check=False)
        self.host.systemctl("reset-failed", self.unit, check=False)


# --- the bench ------------------------------------------------------------------------------

class Bench:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.host = Host(cfg.container)
        self.results: dict = {"figures": {}}
        self.errors: list[str] = []
        self.found: dict = {}
        self.spec: WorkerSpec | None = None
        self.flower_url = ""
        self.flower_state_dir = ""
        self.touched = False  # whether the demo was changed and must be put back
        self.driver_runs = 0

    # -- the driver inside the host --

    def driver(self, *args: str, timeout: int = 1800) -> dict:
        spec = self.spec
        self.driver_runs += 1
        cmd = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect",
               f"--unit=bench-driver-{os.getpid()}-{self.driver_runs}",
               f"--uid={spec.user}", f"--gid={spec.group}",
               "-p", f"RuntimeMaxSec={timeout}",
               "-p", f"Environment=PYTHONPATH={REMOTE_DIR}",
               "-p", "Environment=PYTHONDONTWRITEBYTECODE=1"]
        for env_file in spec.env_files:
            cmd += ["-p", f"EnvironmentFile={env_file}"]
        proc = self.host.run(*cmd, spec.python, f"{REMOTE_DIR}/driver.py", *args,
                             check=False, timeout=timeout + 60)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise BenchError(f"driver {args[0]} gave no answer (exit {proc.returncode}): "
                             f"{proc.stderr.strip()[-800:]}")
        answer = json.loads(lines[-1])
        if not answer.get("ok"):
            raise BenchError(f"driver {args[0]}: {answer.get('error')} {answer}")
        return answer

    # -- setting up and putting back --

    def prepare(self) -> None:
        host, cfg = self.host, self.cfg
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", cfg.container],
                               capture_output=True, text=True)
        if state.stdout.strip() != "true":
            raise BenchError(f"container {cfg.container} is not running (make demo)")
        for unit in (cfg.worker_unit, cfg.flower_unit):
            if not host.exists(unit):
                raise BenchError(f"{unit}.service is not installed in {cfg.container}")
        self.found = {unit: host.is_active(unit) for unit in (cfg.worker_unit, cfg.flower_unit)}
        say(f"found in {cfg.container}: " + ", ".join(
            f"{u} {'active' if a else 'inactive'}" for u, a in self.found.items()))

        self.touched = True
        host.run("mkdir", "-p", REMOTE_DIR)
        for name in ("benchtasks.py", "driver.py"):
            subprocess.run(["docker", "cp", str(BENCH / name), f"{cfg.container}:{REMOTE_DIR}/"],
                           check=True, capture_output=True)
        host.run("chmod", "-R", "u=rwX,go=rX", REMOTE_DIR)
        host.run("chown", "-R", "root:root", REMOTE_DIR)

        # The deployed worker keeps its unit, hardening included; the drop-in only adds
        # the bench module to its environment (Celery's CLI reads CELERY_WORKER_INCLUDE
        # as `worker --include`).
        host.write(f"{DROP_IN_DIR.format(unit=cfg.worker_unit)}/{DROP_IN}",
                   "# Written by bench/bench.py for the length of a benchmark run; removed "
                   "at its end.\n[Service]\n"
                   f"Environment=PYTHONPATH={REMOTE_DIR}\n"
                   "Environment=CELERY_WORKER_INCLUDE=benchtasks\n"
                   "Environment=PYTHONDONTWRITEBYTECODE=1\n")
        host.systemctl("daemon-reload")

        # Flower keeps what it saw across restarts: save its state to put it back.
        host.systemctl("stop", cfg.flower_unit)
        flower_state = host.show(cfg.flower_unit, "StateDirectory") or cfg.flower_unit
        self.flower_state_dir = f"/var/lib/{flower_state.split()[0]}"
        host.run("sh", "-c", f"test ! -d {self.flower_state_dir} || tar -C /var/lib -cf "
                 f"{FLOWER_BACKUP} {Path(self.flower_state_dir).name}")
        host.systemctl("stop", cfg.worker_unit)

        self.spec = read_worker_spec(host, cfg.worker_unit)
        self.flower_url = self._flower_healthcheck_url()
        say(f"worker {self.spec.node}: {' '.join(self.spec.argv[1:])}")

    def _flower_healthcheck_url(self) -> str:
        exec_start = self.host.show(self.cfg.flower_unit, "ExecStart")
        opts = {}
        for arg in exec_start.split():
            if arg.startswith("--") and "=" in arg:
                key, value = arg[2:].split("=", 1)
                opts[key] = value
        address = opts.get("address", "127.0.0.1")
        if address in ("", "0.0.0.0", "::"):
            address = "127.0.0.1"
        prefix = opts.get("url_prefix", "").strip("/")
        path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
        return f"http://{address}:{opts.get('port', '5555')}{path}"

    def restore(self) -> None:
        """Put the demo back as it was found; every step is tried even if one fails."""
        if not self.touched:
            return
        host, cfg = self.host, self.cfg
        steps = [
            ("stop drivers and hand-started workers", lambda: host.systemctl(
                "stop", "bench-driver-*", BYHAND_UNIT, CEILING_UNIT, check=False)),
            ("drop leftover bench tasks", self._purge_leftovers),
            ("stop Flower", lambda: host.systemctl("stop", cfg.flower_unit, check=False)),
            ("put back Flower's state", lambda: self.flower_state_dir and host.run("sh", "-c",
                f"test ! -f {FLOWER_BACKUP} || {{ rm -rf {self.flower_state_dir} && "
                f"tar -C /var/lib -xf {FLOWER_BACKUP} && rm -f {FLOWER_BACKUP}; }}")),
            ("remove the drop-in", lambda: host.run(
                "rm", "-f", f"{DROP_IN_DIR.format(unit=cfg.worker_unit)}/{DROP_IN}")),
            ("remove an empty drop-in directory", lambda: host.run(
                "rmdir", "--ignore-fail-on-non-empty", DROP_IN_DIR.format(unit=cfg.worker_unit),
                check=False)),
            ("daemon-reload", lambda: host.systemctl("daemon-reload")),
            ("remove /opt/bench", lambda: host.run("rm", "-rf", REMOTE_DIR)),
        ]
        for unit in (cfg.worker_unit, cfg.flower_unit):
            if self.found.get(unit, True):
                steps.append((f"restart {unit}", lambda u=unit: host.systemctl("restart", u)))
            else:
                steps.append((f"stop {unit}", lambda u=unit: host.systemctl("stop", u)))
        for what, step in steps:
            try:
                step()
            except Exception as error:  # noqa: BLE001 - keep putting things back
                say(f"restore: {what} failed: {error}")
                self.errors.append(f"restore: {what}: {error}")
        say(f"{cfg.container} restored: " + ", ".join(
            f"{u} {'active' if host.is_active(u) else 'inactive'}" for u in self.found))

    def _purge_leftovers(self) -> None:
        if self.spec is None:
            return
        host, unit = self.host, self.cfg.worker_unit
        # The worker must not take leftovers while they are removed.
        host.systemctl("stop", unit, check=False)
        answer = self.driver("purge", timeout=300)
        if answer.get("removed"):
            say(f"removed {answer['removed']} leftover bench tasks from the queue")

    # -- figures 1 and 5: drain a published batch -----------------------------------------

    def sides(self) -> dict:
        spec = self.spec
        byhand = HandWorker(self.host, BYHAND_UNIT, spec, "by hand")
        ceiling_argv = without_options(
            spec.argv, {"--pool", "-P", "--concurrency", "-c", "--loglevel", "-l"})
        # The ceiling's options replace pool, concurrency and log level; the rest stays.
        ceiling_spec = replace(spec, argv=[*ceiling_argv, *self.cfg.ceiling_args],
                               environment=[*spec.environment, *self.cfg.ceiling_env])
        return {
            "deployed": DeployedWorker(self.host, self.cfg.worker_unit),
            "byhand": byhand,
            "ceiling": HandWorker(self.host, CEILING_UNIT, ceiling_spec, "ceiling"),
            "monitored": DeployedWorker(self.host, self.cfg.worker_unit, "deployed + Flower"),
        }

    def _worker_up(self, worker, events: str) -> dict:
        worker.start()
        info = self.driver("ping", "--node", self.spec.node, "--timeout", "90")
        if events == "flower":
            self.host.systemctl("start", self.cfg.flower_unit)
            self.driver("http-ready", "--url", self.flower_url, "--timeout", "90")
            self.driver("events", "on")  # what Flower does every few seconds, made certain
            time.sleep(FLOWER_SETTLE_S)  # Flower's own start-up (state, first inspect) done
        else:
            self.driver("events", "off")
        return info

    def _worker_down(self, worker, events: str) -> None:
        if events == "flower":
            self.host.systemctl("stop", self.cfg.flower_unit)
        worker.stop()

    def drain_once(self, worker, events: str) -> dict:
        try:
            info = self._worker_up(worker, events)
            result = self.driver("drain", "--node", self.spec.node,
                                 "--tasks", str(self.cfg.tasks))
        finally:
            self._worker_down(worker, events)
        result["worker"] = {k: info[k] for k in ("pool", "concurrency", "prefetch_count")}
        return result

    def throughput(self) -> None:
        want = self.cfg.figures
        rotation = []
        if "1" in want:
            rotation += ["deployed", "byhand", "ceiling"]
        if "5" in want:
            rotation += ["monitored"] if "deployed" in rotation else ["deployed", "monitored"]
        if not rotation:
            return
        sides = self.sides()
        runs: dict[str, list[dict]] = {name: [] for name in rotation}
        say(f"throughput: {self.cfg.tasks} no-op tasks a run, {self.cfg.pairs} rounds of "
            f"{' '.join(rotation)}")
        for round_no in range(1, self.cfg.pairs + 1):
            for name in rotation:
                events = "flower" if name == "monitored" else "off"
                result = self.drain_once(sides[name], events)
                runs[name].append(result)
                say(f"  round {round_no} {name:9s} {result['tasks_per_s']:>9,.0f} tasks/s "
                    f"(published at {result['publish_per_s']:,.0f}/s; "
                    f"{result['worker']['pool']} x{result['worker']['concurrency']}, "
                    f"prefetch {result['worker']['prefetch_count']})")

        rates = {name: [r["tasks_per_s"] for r in rs] for name, rs in runs.items()}

        def comparison(a: str, b: str, target: float | None, labels: tuple[str, str]) -> dict:
            ratios = report.pair_ratios(rates[a], rates[b])
            ratio = report.summary(ratios)
            fig = {
                "unit": "tasks/s",
                "sides": {labels[0]: report.summary(rates[a], 1),
                          labels[1]: report.summary(rates[b], 1)},
                "ratio": ratio,
                "ratio_of_medians": round(report.summary(rates[a])["median"]
                                          / report.summary(rates[b])["median"], 3),
                "target": None if target is None else f">= {target}",
                "pass": None if target is None else ratio["median"] >= target,
                "runs": {labels[0]: runs[a], labels[1]: runs[b]},
            }
            return fig

        figures = self.results["figures"]
        if "1" in want:
            figures["1_throughput"] = comparison("deployed", "byhand", 0.95,
                                                 ("deployed", "by hand"))
            ceiling = comparison("deployed", "ceiling", None, ("deployed default", "ceiling"))
            ceiling["ceiling_config"] = {"args": self.cfg.ceiling_args,
                                         "env": self.cfg.ceiling_env}
            figures["1b_ceiling"] = ceiling
        if "5" in want:
            figures["5_monitoring"] = comparison("monitored", "deployed", 0.90,
                                                 ("events on + Flower", "events off"))

    # -- figure 2: round trips ------------------------------------------------------------

    def latency(self) -> None:
        sides = self.sides()
        cfg = self.cfg
        say(f"latency: {cfg.roundtrips} sequential add(1, 1) round trips after {cfg.warmup} "
            f"to warm up, {cfg.pairs} rounds of deployed byhand")
        runs: dict[str, list[dict]] = {"deployed": [], "byhand": []}
        for round_no in range(1, cfg.pairs + 1):
            for name in runs:
                try:
                    self._worker_up(sides[name], "off")
                    answer = self.driver("latency", "--count", str(cfg.roundtrips),
                                         "--warmup", str(cfg.warmup))
                finally:
                    self._worker_down(sides[name], "off")
                samples = answer["samples_ms"]
                run = {p: round(report.percentile(samples, q), 3)
                       for p, q in (("p50", 50), ("p90", 90), ("p99", 99))}
                run.update(min=round(min(samples), 3), max=round(max(samples), 3),
                           count=len(samples))
                runs[name].append(run)
                say(f"  round {round_no} {name:9s} p50 {run['p50']:.2f} ms  "
                    f"p90 {run['p90']:.2f} ms  p99 {run['p99']:.2f} ms")
        fig = {"unit": "ms", "target": "p50 and p99 ratios <= 1.1", "runs": runs}
        for p in ("p50", "p90", "p99"):
            a = [r[p] for r in runs["deployed"]]
            b = [r[p] for r in runs["byhand"]]
            fig[p] = {"deployed": report.summary(a), "by hand": report.summary(b),
                      "ratio": report.summary(report.pair_ratios(a, b))}
        fig["pass"] = all(fig[p]["ratio"]["median"] <= 1.1 for p in ("p50", "p99"))
        self.results["figures"]["2_latency"] = fig

    # -- figure 3: converge time --------------------------------------------------------

    def converge(self) -> None:
        cfg = self.cfg
        docker = ["docker"]
        if subprocess.run([*docker, "ps", "-aq", "--filter", f"name=^{CONVERGE_CONTAINER}$"],
                          capture_output=True, text=True).stdout.strip():
            subprocess.run([*docker, "rm", "-f", CONVERGE_CONTAINER], capture_output=True)
        workdir = Path(tempfile.mkdtemp(prefix="bench-converge-"))
        try:
            say(f"converge: fresh container {CONVERGE_CONTAINER} from {cfg.image}")
            # The recipe of scripts/demo.sh, without the published port.
            subprocess.run([
                *docker, "run", "-d", "--name", CONVERGE_CONTAINER,
                "--hostname", CONVERGE_CONTAINER,
                "--cap-add", "SYS_ADMIN", "--cgroupns", "host",
                "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
                "--stop-signal", "SIGRTMIN+3", cfg.image, "/lib/systemd/systemd",
            ], check=True, capture_output=True, text=True)
            target = Host(CONVERGE_CONTAINER)
            for _ in range(120):
                state = target.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(0.5)
            inventory = workdir / "inventory"
            shutil.copytree(ROOT / "inventory" / "local" / "group_vars", inventory / "group_vars")
            host_line = f"        {CONVERGE_CONTAINER}:\n"
            (inventory / "hosts.yml").write_text(
                "---\n# Written by bench/bench.py: one fresh container plays every part.\n"
                "all:\n  children:\n" + "".join(
                    f"    {group}:\n      hosts:\n{host_line}"
                    for group in ("rabbitmq", "celery_workers", "flower")))
            runs = {}
            for label in ("cold", "second"):
                runs[label] = self._playbook(inventory, label, workdir)
                say(f"  {label:6s} run {runs[label]['seconds']:7.1f} s, "
                    f"changed={runs[label]['changed']}")
        finally:
            subprocess.run([*docker, "rm", "-f", CONVERGE_CONTAINER], capture_output=True)
            shutil.rmtree(workdir, ignore_errors=True)
        ratio = runs["second"]["seconds"] / runs["cold"]["seconds"]
        self.results["figures"]["3_converge"] = {
            "unit": "s",
            "cold": runs["cold"], "second": runs["second"],
            "ratio": round(ratio, 3),
            "target": "second run changed=0 and <= 0.35 x cold",
            "pass": runs["second"]["changed"] == 0 and ratio <= 0.35,
        }

    def _playbook(self, inventory: Path, label: str, workdir: Path) -> dict:
        timer = workdir / f"timer-{label}.json"
        log = self.cfg.results / f"{self.cfg.stamp}-converge-{label}.log"
        env = dict(os.environ,
                   PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
                   ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,bench_timer",
                   BENCH_TIMER_OUT=str(timer), ANSIBLE_NOCOLOR="1")
        playbook = shutil.which("ansible-playbook", path=env["PATH"]) or "ansible-playbook"
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.run([playbook, "-i", str(inventory), "site.yml"], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise BenchError(f"{label} converge failed (exit {proc.returncode}), see {log}")
        data = json.loads(timer.read_text())
        recap = data["recap"].get(CONVERGE_CONTAINER, {})
        slowest = sorted(data["tasks"], key=lambda t: t["seconds"], reverse=True)[:10]
        return {"seconds": round(seconds, 1), "changed": recap.get("changed"),
                "recap": recap, "tasks": len(data["tasks"]), "log": str(log.relative_to(ROOT))
                if log.is_relative_to(ROOT) else str(log),
                "slowest": [{"task": t["name"], "seconds": t["seconds"]} for t in slowest]}

    # -- figure 4: molecule test ----------------------------------------------------------

    def molecule(self) -> None:
        cfg = self.cfg
        fig = {"unit": "s", "target": "<= 300 s for both platforms", "scenario":
               cfg.molecule_scenario}
        if cfg.molecule_log:
            text = Path(cfg.molecule_log).read_text(encoding="utf-8", errors="replace")
            fig["source"] = cfg.molecule_log
            wall = None
        elif cfg.run_molecule:
            text, wall, log, returncode = self._run_molecule()
            fig.update(source=str(log), exit_code=returncode)
        else:
            fig.update(source=None, skipped=(
                "set BENCH_MOLECULE_LOG=<log of `molecule test`> or BENCH_RUN_MOLECULE=1"))
            self.results["figures"]["4_molecule"] = fig
            say("molecule: skipped (" + fig["skipped"] + ")")
            return
        run = molecule_log.parse(text)
        fig.update(run.as_dict())
        if not run.steps:
            fig.update(note="no Molecule step lines in the log", total_seconds=None)
        if wall is not None:
            fig["total_seconds"] = round(wall, 1)
            fig["timing"] = "line stamps, total measured around the process"
        total = fig["total_seconds"]
        succeeded = run.succeeded and fig.get("exit_code", 0) == 0
        fig["succeeded"] = succeeded
        fig["pass"] = None if total is None else (total <= 300 and succeeded)
        self.results["figures"]["4_molecule"] = fig
        if not run.steps:
            say(f"molecule: no `default ➜ STEP: Executing` lines in {fig['source']}")
        else:
            say(f"molecule: {report.seconds(total)} ({fig['timing']}), "
                f"{'succeeded' if succeeded else 'failed or unfinished'}")

    def _run_molecule(self) -> tuple[str, float, Path, int]:
        cfg = self.cfg
        log = cfg.results / f"{cfg.stamp}-molecule.log"
        env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}")
        say(f"molecule: running `molecule test -s {cfg.molecule_scenario}` (log: {log})")
        lines = []
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(["molecule", "test", "-s", cfg.molecule_scenario], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace", bufsize=1)
            for line in proc.stdout:
                stamp = datetime.now().isoformat(timespec="milliseconds")
                stamped = f"{stamp} {line.rstrip()}"
                lines.append(stamped)
                out.write(stamped + "\n")
            proc.wait()
        wall = time.monotonic() - start
        if proc.returncode != 0:
            say(f"molecule exited {proc.returncode}; see {log}")
        return "\n".join(lines), wall, log, proc.returncode

    # -- the table ------------------------------------------------------------------------

    def table(self) -> str:
        f = self.results["figures"]
        rows = []

        def err(key: str, title: str):
            message = self.results.get("figure_errors", {}).get(key)
            if message:
                rows.append((title, "-", "-", "error: " + message[:60], "-", "ERROR"))
                return True
            return False

        if "1_throughput" in f:
            t = f["1_throughput"]
            rows.append(("1 throughput deployed / by hand",
                         "deployed " + report.rate(t["sides"]["deployed"]),
                         "by hand " + report.rate(t["sides"]["by hand"]),
                         report.ratio(t["ratio"]), ">= 0.95", report.mark(t["pass"])))
            c = f["1b_ceiling"]
            rows.append(("1b deployed default / ceiling",
                         "default " + report.rate(c["sides"]["deployed default"]),
                         "ceiling " + report.rate(c["sides"]["ceiling"]),
                         report.ratio(c["ratio"]), "(none: how far)", "INFO"))
        else:
            err("1", "1 throughput deployed / by hand")
        if "2_latency" in f:
            lat = f["2_latency"]
            for p, target in (("p50", "<= 1.10"), ("p90", "(info)"), ("p99", "<= 1.10")):
                ok = (lat[p]["ratio"]["median"] <= 1.1) if p != "p90" else None
                rows.append((f"2 latency {p} deployed / by hand",
                             "deployed " + report.ms(lat[p]["deployed"]),
                             "by hand " + report.ms(lat[p]["by hand"]),
                             report.ratio(lat[p]["ratio"]), target,
                             "INFO" if p == "p90" else report.mark(ok)))
        else:
            err("2", "2 latency deployed / by hand")
        if "3_converge" in f:
            c = f["3_converge"]
            rows.append(("3 converge second / cold",
                         "cold " + report.seconds(c["cold"]["seconds"]),
                         f"second {report.seconds(c['second']['seconds'])} "
                         f"changed={c['second']['changed']}",
                         f"{c['ratio']:.3f}", "<= 0.35, changed=0", report.mark(c["pass"])))
        else:
            err("3", "3 converge second / cold")
        if "4_molecule" in f:
            m = f["4_molecule"]
            if m.get("skipped"):
                rows.append(("4 molecule test (default)", "-", "-", "not measured",
                             "<= 300 s", "SKIP"))
            elif not m["steps"]:
                rows.append(("4 molecule test (default)", "no steps in the log", "-", "-",
                             "<= 300 s", "n/a"))
            else:
                estimate = m["timing"] == "profile_tasks estimate"
                rows.append(("4 molecule test (default)",
                             f"{len(m['steps'])} steps, "
                             f"{'ok' if m['succeeded'] else 'FAILED'}", "-",
                             report.seconds(m["total_seconds"]) + (" *" if estimate else ""),
                             "<= 300 s",
                             report.mark(m["pass"]) + ("*" if estimate and m["pass"] else "")))
        else:
            err("4", "4 molecule test (default)")
        if "5_monitoring" in f:
            mon = f["5_monitoring"]
            rows.append(("5 events+Flower / events off",
                         "on " + report.rate(mon["sides"]["events on + Flower"]),
                         "off " + report.rate(mon["sides"]["events off"]),
                         report.ratio(mon["ratio"]), ">= 0.90", report.mark(mon["pass"])))
        else:
            err("5", "5 events+Flower / events off")

        text = [report.render(rows)]
        if "3_converge" in f:
            for run in ("cold", "second"):
                text.append(f"\n3 ten slowest tasks of the {run} converge "
                            f"({f['3_converge'][run]['tasks']} tasks in all):")
                for t in f["3_converge"][run]["slowest"]:
                    text.append(f"  {t['seconds']:8.1f} s  {t['task']}")
        if "4_molecule" in f and f["4_molecule"].get("steps"):
            m = f["4_molecule"]
            text.append(f"\n4 molecule steps ({m['timing']}):")
            for s in m["steps"]:
                secs = "-" if s["seconds"] is None else f"{s['seconds']:8.1f} s"
                text.append(f"  {secs:>10}  {s['name']:12s} {s['outcome']}")
            if m["timing"] == "profile_tasks estimate":
                text.append("  * estimated from profile_tasks time stamps in the log: leaves out "
                            "Molecule's and every ansible-playbook's start-up, so a lower "
                            "bound; BENCH_RUN_MOLECULE=1 times it exactly.")
        if set(f) & {"1_throughput", "2_latency", "5_monitoring"}:
            text.append(f"\nMedians over {self.cfg.pairs} alternating pairs, range in "
                        f"brackets; ratios are medians of the pairs' ratios. "
                        f"{self.cfg.tasks} tasks a throughput run, {self.cfg.roundtrips} "
                        f"round trips a latency run.")
            if self.cfg.pairs < 3:
                text.append("Fewer than 3 pairs: a quick run to try the suite, not a result.")
        return "\n".join(text)

    # -- the whole run --

    def run(self) -> int:
        cfg = self.cfg
        cfg.results.mkdir(parents=True, exist_ok=True)
        self.results.update(started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            config=cfg.public(), machine={"cpus": os.cpu_count()})
        errors = self.results.setdefault("figure_errors", {})

        on_demo = cfg.figures & {"1", "2", "5"}
        if on_demo:
            try:
                self.prepare()
                self.results["worker"] = {"node": self.spec.node, "argv": self.spec.argv,
                                          "user": self.spec.user,
                                          "env_files": self.spec.env_files}
                self.results["versions"] = dict(
                    zip(("celery", "kombu", "flower"), self.host.out(
                        self.spec.python, "-c", "import celery, kombu, flower; "
                        "print(celery.__version__, kombu.__version__, flower.__version__)"
                    ).split()),
                    rabbitmq=self.host.out("rabbitmqctl", "version", check=False))
                for key, step in (("1", self.throughput), ("2", self.latency)):
                    if key in cfg.figures or (key == "1" and "5" in cfg.figures):
                        try:
                            step()
                        except BenchError as error:
                            say(f"figure {key}: {error}")
                            errors[key] = str(error)
                            if key == "1" and "5" in cfg.figures:
                                errors["5"] = str(error)
            except BenchError as error:
                say(f"setup: {error}")
                for key in on_demo:
                    errors.setdefault(key, str(error))
            finally:
                self.restore()
        for key, step in (("3", self.converge), ("4", self.molecule)):
            if key in cfg.figures:
                try:
                    step()
                except (BenchError, subprocess.CalledProcessError, OSError) as error:
                    say(f"figure {key}: {error}")
                    errors[key] = str(error)

        self.results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.results["restore_errors"] = self.errors
        table = self.table()
        self.results["table"] = table
        out = cfg.results / f"{cfg.stamp}.json"
        out.write_text(json.dumps(self.results, indent=1) + "\n")
        print()
        print(table)
        print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
        return 1 if errors or self.errors else 0


def main() -> int:
    # `kill` and Ctrl-C both end in the finally blocks that put the demo back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return Bench(Config()).run()


if __name__ == "__main__":
    sys.exit(main())
