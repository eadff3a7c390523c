"""Figure 5's three hosts and figure 8's cluster: their names, CPUs and inventory, and
their removal whatever happens, against a fake docker (no container is started)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import host  # noqa: E402
import layout  # noqa: E402

# Names other test runs on the same machine use at the same time.
TAKEN = {"mq1.example.internal", "worker1.example.internal", "monitor1.example.internal",
         "debian12", "debian13", "faults12", "celery-demo", "bench-converge"}
SECRET = {"broker": "b" * 32, "cookie": "c" * 32, "monitor": "m" * 32, "flower": "f" * 32}


def test_every_name_carries_a_fresh_id():
    first, second = layout.Names.fresh(), layout.Names.fresh()
    assert first.run_id != second.run_id
    names = [first.network, *first.hosts.values()]
    assert len(set(names)) == 4 and not set(names) & TAKEN
    assert all(first.run_id in name for name in names)
    assert first.hosts == {"broker": f"bench-{first.run_id}-broker",
                           "worker": f"bench-{first.run_id}-worker",
                           "monitor": f"bench-{first.run_id}-monitor"}


def test_cpu_lists():
    assert layout.parse_cpus("0") == {0}
    assert layout.parse_cpus("0-2,5") == {0, 1, 2, 5}
    assert layout.parse_cpus("") == set()
    with pytest.raises(host.BenchError, match="not a CPU list"):
        layout.parse_cpus("first")


def test_the_monitor_gets_cpus_of_its_own():
    assert layout.cpusets(2, "0") == {"broker": "1", "worker": "1", "monitor": "0"}
    assert layout.cpusets(4, "0") == {"broker": "1,2,3", "worker": "1,2,3", "monitor": "0"}
    assert layout.cpusets(4, "2-3") == {"broker": "0,1", "worker": "0,1", "monitor": "2,3"}
    # nothing to split: every host on every CPU
    assert layout.cpusets(2, "") == {"broker": None, "worker": None, "monitor": None}
    assert layout.cpusets(1, "0") == {"broker": None, "worker": None, "monitor": None}
    with pytest.raises(host.BenchError, match="leaves no CPU"):
        layout.cpusets(2, "0-1")
    with pytest.raises(host.BenchError, match="CPUs 0-1"):
        layout.cpusets(2, "3")


def test_the_inventory_puts_each_host_in_its_group_with_plain_amqp_between_them():
    names = layout.Names("1234abcd")
    files = layout.inventory(names, SECRET)
    groups = files["hosts.yml"]["all"]["children"]
    assert {group: list(entry["hosts"]) for group, entry in groups.items()} == {
        "rabbitmq": ["bench-1234abcd-broker"], "celery_workers": ["bench-1234abcd-worker"],
        "flower": ["bench-1234abcd-monitor"]}
    every = files["group_vars/all.yml"]
    assert every["ansible_connection"] == "community.docker.docker"
    assert every["celery_app_broker_password"] == SECRET["broker"]
    assert "celery_app_broker_tls" not in every  # plain AMQP: the roles' default
    broker = files["group_vars/rabbitmq.yml"]
    assert broker["rabbitmq_erlang_cookie"] == SECRET["cookie"]
    assert "127.0.0.1" not in broker["rabbitmq_management_address"]
    assert "rabbitmq_tls" not in broker
    monitor = files["group_vars/flower.yml"]
    assert monitor["flower_broker_api_url"] == "http://bench-1234abcd-broker:15672/api/"
    assert monitor["flower_broker_api_password"] == SECRET["monitor"]
    assert broker["rabbitmq_users"][0]["name"] == monitor["flower_broker_api_user"]
    assert monitor["flower_basic_auth"][0]["password"] == SECRET["flower"]
    assert files["group_vars/celery_workers.yml"]["celery_worker_concurrency"] == 2


def test_the_inventory_files_are_yaml_readable_by_their_owner_only(tmp_path):
    files = layout.inventory(layout.Names("1234abcd"), SECRET)
    hosts_file = layout.write_inventory(tmp_path, files)
    assert hosts_file == tmp_path / "hosts.yml"
    for name, content in files.items():
        assert yaml.safe_load((tmp_path / name).read_text()) == content
        assert (tmp_path / name).stat().st_mode & 0o077 == 0


def test_the_cluster_has_three_brokers_in_one_group_and_a_worker_that_notes_its_runs():
    names = layout.Names("1234abcd", tuple(layout.CLUSTER.parts))
    assert list(names.hosts.values()) == [f"bench-1234abcd-{part}" for part in
                                          ("broker1", "broker2", "broker3", "worker")]
    files = layout.inventory(names, SECRET, layout.CLUSTER)
    groups = files["hosts.yml"]["all"]["children"]
    assert {group: list(entry["hosts"]) for group, entry in groups.items()} == {
        "rabbitmq": [f"bench-1234abcd-broker{n}" for n in (1, 2, 3)],
        "celery_workers": ["bench-1234abcd-worker"]}
    # one cookie for the three nodes; no Flower and no account of its own
    assert files["group_vars/rabbitmq.yml"]["rabbitmq_erlang_cookie"] == SECRET["cookie"]
    assert "rabbitmq_users" not in files["group_vars/rabbitmq.yml"]
    assert "group_vars/flower.yml" not in files
    workers = files["group_vars/celery_workers.yml"]
    assert workers["celery_worker_concurrency"] == 2
    assert workers["celery_app_environment"] == {"TEST_CELERY_RECORD_DIR": layout.RECORD_DIR}


def test_a_layout_without_a_monitor_is_not_pinned():
    parts = tuple(layout.CLUSTER.parts)
    assert layout.cpusets(2, "0", parts) == dict.fromkeys(parts)


class FakeDocker:
    """Answers `docker ...` as layout calls it and records every call."""

    def __init__(self, failing: dict[str, str] | None = None):
        self.calls: list[tuple[str, ...]] = []
        self.failing = failing or {}

    def __call__(self, *args, timeout=120):
        self.calls.append(args)
        if args[:2] == ("info", "--format"):
            return subprocess.CompletedProcess(args, 0, "2\n", "")
        for prefix, stderr in self.failing.items():
            if " ".join(args).startswith(prefix):
                return subprocess.CompletedProcess(args, 1, "", stderr)
        return subprocess.CompletedProcess(args, 0, "", "")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    docker = FakeDocker()
    started: list[tuple] = []
    monkeypatch.setattr(layout, "docker", docker)
    monkeypatch.setattr(layout, "start_container",
                        lambda name, image, *options: started.append((name, options)))
    monkeypatch.setattr(layout, "run_site", lambda inventory, log: (0, 12.0))
    monkeypatch.setattr(layout.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    return docker, started, tmp_path / "work"


def removed(docker: FakeDocker) -> list[tuple[str, ...]]:
    return [c for c in docker.calls if c[:2] in (("rm", "-f"), ("network", "rm"))]


def test_the_hosts_are_made_on_their_network_and_removed_after(fake):
    docker, started, workdir = fake
    errors = []
    with layout.made_hosts(layout.MONITORING, "img:12", "0", Path("log"), errors) as (
            names, about, hosts_file):
        assert [name for name, _ in started] == list(names.hosts.values())
        for name, options in started:
            assert options[:2] == ("--network", names.network)
        assert dict((n, o[o.index("--cpuset-cpus") + 1]) for n, o in started) == {
            names.host("broker"): "1", names.host("worker"): "1", names.host("monitor"): "0"}
        assert hosts_file == workdir / "inventory" / "hosts.yml" and hosts_file.exists()
        assert about["converge_seconds"] == 12.0 and about["cpus"]["monitor"] == "0"
        assert removed(docker) == []
    assert removed(docker) == [("rm", "-f", name) for name in names.hosts.values()] + [
        ("network", "rm", names.network)]
    assert not workdir.exists() and errors == []


def test_ctrl_c_while_converging_still_removes_everything(fake, monkeypatch):
    docker, started, workdir = fake

    def interrupted(inventory, log):
        raise KeyboardInterrupt

    monkeypatch.setattr(layout, "run_site", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with layout.made_hosts(layout.MONITORING, "img:12", "0", Path("log"), []):
            pytest.fail("the layout is never handed out")
    created = [c for c in docker.calls if c[:2] == ("network", "create")]
    network = created[0][-1]
    assert removed(docker)[-1] == ("network", "rm", network)
    assert [c[-1] for c in removed(docker)[:-1]] == [name for name, _ in started]
    assert not workdir.exists()


def test_a_failed_converge_is_an_error_and_still_removes_everything(fake, monkeypatch):
    docker, _, _ = fake
    monkeypatch.setattr(layout, "run_site", lambda inventory, log: (2, 30.0))
    with pytest.raises(host.BenchError, match="converging the layout failed"):
        with layout.made_hosts(layout.MONITORING, "img:12", "0", Path("log"), []):
            pass
    assert len(removed(docker)) == 4


def test_a_container_never_made_is_no_teardown_error_but_a_refusal_is(fake):
    docker, _, _ = fake
    names = layout.Names("1234abcd")
    docker.failing = {f"rm -f {names.host('broker')}": "Error: No such container: x",
                      "network rm": "error: network has active endpoints"}
    errors = []
    layout.remove(names, errors)
    assert errors == [f"teardown: remove network {names.network}: "
                      "error: network has active endpoints"]


def test_an_interrupted_converge_lets_ansible_playbook_stop_by_itself(monkeypatch, tmp_path):
    # Stands for ansible-playbook: notes the SIGINT it gets, as the real one stops its forks.
    fake = tmp_path / "ansible-playbook"
    # Python, not sh: a shell cannot trap SIGINT when it starts with SIGINT ignored, as
    # everything started in the background by a non-interactive shell does.
    fake.write_text(f"#!{sys.executable}\n"
                    "import signal, sys, time\n"
                    "def stop(*_):\n"
                    "    open(sys.argv[0] + '.seen', 'w').write('interrupted\\n')\n"
                    "    sys.exit(99)\n"
                    "signal.signal(signal.SIGINT, stop)\n"
                    "while True:\n"
                    "    time.sleep(0.1)\n")
    fake.chmod(0o755)
    monkeypatch.setattr(host.shutil, "which", lambda name, path=None: str(fake))
    with pytest.raises(subprocess.TimeoutExpired):
        host.run_site(tmp_path / "hosts.yml", tmp_path / "log", timeout=1)
    assert (tmp_path / "ansible-playbook.seen").read_text() == "interrupted\n"


def test_the_cluster_is_made_of_its_four_hosts_and_removed_after(fake):
    docker, started, workdir = fake
    with layout.made_hosts(layout.CLUSTER, "img:12", "0", Path("log"), []) as (
            names, about, hosts_file):
        assert [name for name, _ in started] == list(names.hosts.values())
        assert all("--cpuset-cpus" not in options for _, options in started)
        hosts = yaml.safe_load(hosts_file.read_text())["all"]["children"]
        assert len(hosts["rabbitmq"]["hosts"]) == 3
    assert [c[-1] for c in removed(docker)] == [*names.hosts.values(), names.network]
