"""Preparing and putting back the demo, against a fake container; reading systemd's output."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import demo  # noqa: E402
import host  # noqa: E402

WORKER_EXEC = ("{ path=/opt/app/venv/bin/celery ; argv[]=/opt/app/venv/bin/celery -A test_celery "
               "worker --concurrency=2 --hostname=celery@%h ; ignore_errors=no ; "
               "start_time=[n/a] }")
FLOWER_EXEC = ("{ path=/opt/app/venv/bin/celery ; argv[]=/opt/app/venv/bin/celery -A test_celery "
               "flower --address=0.0.0.0 --port=5555 --url_prefix=/flower/ ; ignore_errors=no }")


class FakeContainer(host.Host):
    """Answers what prepared_demo asks systemd and the driver, and records every command."""

    def __init__(self, container, active=("celery-worker", "flower"), failing=()):
        super().__init__(container)
        self.active, self.failing = set(active), set(failing)
        self.commands: list[tuple[str, ...]] = []

    def run(self, *argv, stdin=None, check=True, timeout=None):
        self.commands.append(argv)
        returncode, stdout = 0, self.answer(argv)
        if argv[:2] == ("systemctl", "is-active"):
            returncode = 0 if argv[-1] in self.active else 3
        if " ".join(argv) in self.failing:
            returncode = 1
        if check and returncode:
            raise host.BenchError(f"{' '.join(argv)} exited {returncode}")
        return subprocess.CompletedProcess(argv, returncode, stdout, "")

    def copy(self, path, directory):
        self.commands.append(("docker cp", path.name, directory))

    @staticmethod
    def answer(argv) -> str:
        if argv[:2] == ("systemctl", "show"):
            prop, unit = argv[3], argv[5]
            return {("ExecStart", "celery-worker"): WORKER_EXEC,
                    ("ExecStart", "flower"): FLOWER_EXEC,
                    ("StateDirectory", "flower"): "flower",
                    ("User", "celery-worker"): "celery",
                    ("Group", "celery-worker"): "celery",
                    ("EnvironmentFiles", "celery-worker"): "/etc/app/celery.env (ignore_errors=no)",
                    ("WorkingDirectory", "celery-worker"): "/opt/app",
                    }.get((prop, unit), "loaded" if prop == "LoadState" else "")
        if argv == ("hostname",):
            return "celery-demo"
        if argv[0] == "systemd-run" and "/opt/bench/driver.py" in argv:
            return json.dumps({"ok": True, "removed": 0, "pool": "prefork", "concurrency": 2,
                               "prefetch_count": 8}) + "\n"
        return ""


class Containers:
    """Stands for host.Host in demo: the fake containers made, with the options given."""

    def __init__(self):
        self.made: list[FakeContainer] = []
        self.options: dict = {}

    def __call__(self, name: str) -> FakeContainer:
        self.made.append(FakeContainer(name, **self.options))
        return self.made[-1]


@pytest.fixture
def container(monkeypatch):
    containers = Containers()
    monkeypatch.setattr(demo, "Host", containers)
    monkeypatch.setattr(demo, "container_running", lambda name: True)
    return containers


def prepared(errors):
    return demo.prepared_demo("celery-demo", "celery-worker", "flower", errors)


def ran(fake: FakeContainer, *argv: str) -> bool:
    return argv in fake.commands


def test_an_error_in_a_figure_still_puts_the_demo_back(container):
    errors = []
    with pytest.raises(RuntimeError, match="a figure broke"):
        with prepared(errors) as d:
            assert d.spec.node == "celery@celery-demo"
            assert d.flower_url == "http://127.0.0.1:5555/flower/healthcheck"
            d.own_queue("bench-quorum")
            d.own_queue("bench-classic")
            raise RuntimeError("a figure broke")
    fake = container.made[0]
    drop_in = "/etc/systemd/system/celery-worker.service.d/bench.conf"
    assert ran(fake, "systemctl", "stop", "bench-*")
    assert ran(fake, "rm", "-f", drop_in)
    assert ran(fake, "docker cp", "driver.py", "/opt/bench")
    assert ran(fake, "rm", "-rf", "/opt/bench")
    assert ran(fake, "systemctl", "restart", "celery-worker")
    assert ran(fake, "systemctl", "restart", "flower")
    deletes = [c for c in fake.commands if c[-3:] == ("delete", "bench-quorum", "bench-classic")]
    assert len(deletes) == 1
    assert any(c[-1] == "purge" for c in fake.commands)
    assert errors == []


def test_the_drop_in_is_in_place_before_the_worker_is_read(container):
    with prepared([]):
        fake = container.made[0]
        written = fake.commands.index(next(c for c in fake.commands if c[0] == "sh"
                                           and "bench.conf" in c[-1]))
        read = fake.commands.index(("systemctl", "show", "-p", "ExecStart", "--value",
                                    "celery-worker"))
        assert written < read


def test_a_failing_step_of_putting_back_does_not_stop_the_others(container):
    container.options = {"failing": {"systemctl daemon-reload"}}
    errors = []
    with pytest.raises(host.BenchError):  # the first daemon-reload, while preparing
        with prepared(errors):
            pass
    fake = container.made[0]
    assert ran(fake, "rm", "-rf", "/opt/bench")
    assert ran(fake, "systemctl", "restart", "celery-worker")
    assert len(errors) == 1 and errors[0].startswith("restore: daemon-reload")


def test_units_found_stopped_are_left_stopped(container):
    container.options = {"active": {"celery-worker"}}
    with prepared([]):
        pass
    fake = container.made[0]
    assert ran(fake, "systemctl", "restart", "celery-worker")
    assert ran(fake, "systemctl", "stop", "flower")
    assert not ran(fake, "systemctl", "restart", "flower")


def test_no_queue_declared_no_queue_deleted(container):
    with prepared([]):
        pass
    assert not any("delete" in c for c in container.made[0].commands)


def test_a_demo_that_is_not_running_is_not_touched(container, monkeypatch):
    monkeypatch.setattr(demo, "container_running", lambda name: False)
    with pytest.raises(host.BenchError, match="not running"):
        with prepared([]):
            pass
    assert container.made[0].commands == []


def test_sides_alternate_round_by_round():
    calls = []
    runs = demo.alternate(2, {"a": lambda: calls.append("a") or {"n": len(calls)},
                              "b": lambda: calls.append("b") or {"n": len(calls)}},
                          describe=lambda run: "")
    assert calls == ["a", "b", "a", "b"]
    assert runs == {"a": [{"n": 1}, {"n": 3}], "b": [{"n": 2}, {"n": 4}]}


def test_overrides_go_through_env_so_the_environment_file_cannot_win():
    assert host.with_env(["A=1"], ["/x/celery", "worker"]) == ["/usr/bin/env", "A=1",
                                                               "/x/celery", "worker"]
    assert host.with_env([], ["/x/celery"]) == ["/x/celery"]
    worker = host.HandWorker(FakeContainer("c"), "quorum", host.WorkerSpec(
        ["/x/celery", "worker"], "celery", "celery", ["/etc/app.env"], ["PYTHONPATH=/opt/bench"],
        "/", "celery@c"), overrides=["CELERY_TASK_DEFAULT_QUEUE_TYPE=quorum"])
    worker.start()
    started = worker.host.commands[-1]
    assert "--unit=bench-quorum" in started
    assert started[-4:] == ("/usr/bin/env", "CELERY_TASK_DEFAULT_QUEUE_TYPE=quorum",
                            "/x/celery", "worker")


def test_reading_the_worker_unit():
    argv = host.exec_start_argv(WORKER_EXEC)
    assert argv[-2:] == ["--concurrency=2", "--hostname=celery@%h"]
    assert host.node_name(argv, "demo.example") == "celery@demo.example"
    assert host.node_name(["celery", "-n", "w1@%n"], "demo.example") == "w1@demo"
    assert host.without_options(argv, {"--concurrency", "-A"}) == [
        "/opt/app/venv/bin/celery", "worker", "--hostname=celery@%h"]
    with pytest.raises(host.BenchError):
        host.exec_start_argv("")


def test_flower_healthcheck_url():
    assert demo.flower_healthcheck_url("celery flower --port=5556") == \
        "http://127.0.0.1:5556/healthcheck"
    assert demo.flower_healthcheck_url(FLOWER_EXEC) == "http://127.0.0.1:5555/flower/healthcheck"


def test_flower_on_a_host_of_its_own_is_started_and_checked_there(monkeypatch):
    monkeypatch.setattr(demo, "FLOWER_SETTLE_S", 0)
    worker, monitor = FakeContainer("w"), FakeContainer("m")
    d = demo.Demo(worker, "celery-worker", "flower", "http://127.0.0.1:5555/healthcheck",
                  "/var/lib/flower", flower_host=monitor)
    d.spec = host.read_worker_spec(worker, "celery-worker")
    with d.running(d.deployed(), monitored=True):
        d.drain(100, task="sleep10")
    assert ran(monitor, "systemctl", "start", "flower")
    assert ran(monitor, "systemctl", "stop", "flower")
    assert not any("flower" in c for c in worker.commands if c[0] == "systemctl")
    ready = [c for c in monitor.commands if "http-ready" in c]
    assert len(ready) == 1 and "http://127.0.0.1:5555/healthcheck" in ready[0]
    drains = [c for c in worker.commands if "drain" in c]
    assert len(drains) == 1 and drains[0][-6:] == ("--node", "celery@celery-demo", "--tasks",
                                                   "100", "--task", "sleep10")
    events = [c[-1] for c in worker.commands if "events" in c]
    assert events == ["on"]
    assert ran(worker, "systemctl", "start", "celery-worker")
    assert ran(worker, "systemctl", "stop", "celery-worker")


def test_one_host_plays_every_part_unless_told():
    one = FakeContainer("celery-demo")
    d = demo.Demo(one, "celery-worker", "flower", "u", "/var/lib/flower")
    assert d.flower_host is one and d.broker_host is one


def test_the_drop_in_only_where_the_worker_runs():
    monitor = FakeContainer("m")
    demo.install_bench(monitor)
    assert ran(monitor, "docker cp", "driver.py", "/opt/bench")
    assert ran(monitor, "docker cp", "benchtasks.py", "/opt/bench")
    assert not any("bench.conf" in " ".join(c) for c in monitor.commands)
    assert not ran(monitor, "systemctl", "daemon-reload")
