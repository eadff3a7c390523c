"""An operator's own app gets every guarantee the deployment sells, with no change to it.

The app is tests/integration/apps/shipyard: another name and layout than test_celery, its
Celery instance (not called app) configured with config_from_object from a module that
asks for classic queues, early acks and prefetch 4, tasks in submodules, built by
flit_core. It is deployed with TLS between the app and the broker, first as a setup.py
tree, then as a wheel, then from git, and read from the outside: the broker's queues and
connections, the worker's journal, Flower's API. Its tasks get a short hard time limit
and the broker a short consumer_timeout, so a task that overruns shows within the test.
"""

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest

from conftest import (FLOWER_PASSWORD, GROUPS, app_python, base_vars, build_wheel, docker, git, publish, recap,
                      run_playbook, start_container, write_inventory)

APP = Path(__file__).parent / "apps" / "shipyard"
NAME = "shipyard.worker"
VHOST = "doky_host"
# The broker's shortest useful consumer_timeout (it looks once a minute), and a hard limit
# the 15 s the preflight asks below it.
TIME_LIMIT, CONSUMER_TIMEOUT_MS = 45, 60000
# RabbitMQ looks for deliveries past consumer_timeout once a minute, per channel: one taken
# back shows within two minutes of its delivery.
WAIT_PAST_TIMEOUT = 2 * CONSUMER_TIMEOUT_MS // 1000 + 30
# A pool process past 200 MiB is replaced after its task.
MEMORY_BOUND_KIB = 200 * 1024
# A task delivered this many times more than once is dead-lettered (room left for the
# returns the broker and worker kills above cause).
DELIVERY_LIMIT = 5
SOURCES = ("celery_app_src_path", "celery_app_wheel", "celery_app_git_url", "celery_app_git_version")

# Sends tasks as a producer of the app does, with the deployment's settings (celery_stack).
# CASE COUNT ARG [TASK]: COUNT calls of shipyard.tasks.packing's TASK (pack: ARG seconds;
# hoard: ARG MiB kept), each given the token CASE-i.
SEND = '''
import json, sys
import celery_stack.app
from shipyard.tasks import packing
case, count, arg = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
task = getattr(packing, sys.argv[4] if len(sys.argv) > 4 else "pack")
for i in range(count):
    task.apply_async((f"{case}-{i}", arg), ignore_result=True)
print(f"sent {count}")
'''
# The resident memory of the worker's pool processes, sampled until the stop file
# appears: the largest seen, in KiB, and how many processes (run as root in the container).
RSS_SAMPLER = '''
import os, subprocess, sys, time
main = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", "celery-worker"],
                      capture_output=True, text=True, check=True).stdout.strip()
largest, children = 0, set()
while not os.path.exists(sys.argv[1]):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
        except OSError:
            continue
        # The prefork pool's processes are the main process's children (cgroup v1 or v2).
        if status.get("PPid", "").strip() != main or "VmRSS" not in status:
            continue
        children.add(pid)
        largest = max(largest, int(status["VmRSS"].split()[0]))
    time.sleep(0.1)
print(largest, len(children))
'''
# A task past its hard time limit, waited for as its producer would: its final state.
# CASE SHORT LONG WAIT: a task of SHORT and one of LONG seconds, and beside them a probe, a
# delivery of its own taken and never acknowledged, which shows when the broker's
# consumer_timeout takes a delivery back. Waits WAIT seconds in all, then prints JSON.
TIMEOUTS = '''
import json, socket, sys, time
import celery_stack.app
from celery import current_app
from kombu import Consumer, Queue
from shipyard.tasks.packing import pack
case, short_s, long_s, wait = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
started = time.monotonic()
short, long = pack.delay(f"{case}-0", short_s), pack.delay(f"{case}-1", long_s)
probe, delivered, long_seconds = None, [], None
with current_app.connection_for_write() as conn:
    channel = conn.channel()
    queue = Queue(f"{case}-probe", exclusive=True, durable=False, channel=channel)
    queue.declare()
    conn.Producer(channel).publish({"probe": case}, routing_key=queue.name, serializer="json")
    Consumer(channel, [queue], accept=["json"],
             callbacks=[lambda body, message: delivered.append(time.monotonic())]).consume()
    while time.monotonic() - started < wait:
        if long_seconds is None and long.ready():
            long_seconds = round(time.monotonic() - started, 1)
        if probe is not None:
            time.sleep(1)
            continue
        try:
            conn.drain_events(timeout=1)
        except socket.timeout:
            pass
        except Exception as error:  # the broker closes the channel: the delivery is taken back
            probe = {"seconds": round(time.monotonic() - delivered[0], 1), "error": f"{type(error).__name__}: {error}"}
print(json.dumps({"probe": probe, "long_seconds": long_seconds,
                  "short": [short.state, str(short.result)], "long": [long.state, type(long.result).__name__]}))
'''
ROUND_TRIP = '''
import celery_stack.app
from shipyard.tasks.billing import invoice
print(invoice.delay(7, 12.5).get(timeout=60))
'''
# The same app connecting with another CA than the deployment's: the system's public ones.
OTHER_CA = '''
import os
from kombu import Connection
from celery_stack.settings import broker_tls
url = os.environ["CELERY_BROKER_URL"]
ssl = broker_tls({**os.environ, "CELERY_BROKER_CA_FILE": "/etc/ssl/certs/ca-certificates.crt"})
try:
    with Connection(url, ssl=ssl, connect_timeout=10) as conn:
        conn.ensure_connection(max_retries=0)
    print("connected")
except Exception as error:
    print("refused: " + type(error).__name__ + ": " + str(error).replace(url, "<url>")[:120])
'''
FLOWER_TASKS = '''
import base64, json, os, urllib.request
request = urllib.request.Request("http://127.0.0.1:5555/api/tasks?limit=1000")
token = base64.b64encode(("admin:" + os.environ["PASSWORD"]).encode()).decode()
request.add_header("Authorization", "Basic " + token)
tasks = json.load(urllib.request.urlopen(request, timeout=10))
print(json.dumps(sorted({task["name"] for task in tasks.values() if task.get("name")})))
'''


def setup_py_tree(target: Path) -> Path:
    """The app as an older project ships it: setup.py, no pyproject.toml."""
    shutil.copytree(APP, target)
    (target / "pyproject.toml").unlink()
    (target / "setup.py").write_text(
        "from setuptools import find_packages, setup\n\n"
        "setup(name='shipyard', version='0.3.0', packages=find_packages(),\n"
        "      install_requires=['celery>=5.5,<6'])\n")
    return target


class Stack:
    def __init__(self, name: str, inventory: Path):
        self.name, self.inventory = name, inventory
        # One set of secrets for every converge (base_vars makes a new Erlang cookie each time).
        self.base = base_vars()

    def converge(self, expect_ok: bool = True, playbook: str = "site.yml", **variables):
        """site.yml (or another playbook) with the app's source (the last one given, unless
        variables name one)."""
        if any(key in variables for key in SOURCES):
            self.source = {key: value for key, value in variables.items() if key in SOURCES}
        variables = {**self.base, "celery_app_name": NAME, "rabbitmq_tls": True, "rabbitmq_amqp_plain": False,
                     "celery_app_broker_tls": True, "flower_broker_api_url": "", "celery_worker_gate_timeout": 60,
                     "celery_app_task_time_limit": TIME_LIMIT, "rabbitmq_consumer_timeout": CONSUMER_TIMEOUT_MS,
                     "celery_app_max_memory_per_child": MEMORY_BOUND_KIB,
                     "celery_app_delivery_limit": DELIVERY_LIMIT,
                     **self.source, **variables}
        write_inventory(self.inventory, self.name, variables, list(GROUPS))
        result = run_playbook(self.inventory, playbook)
        if expect_ok:
            assert result.returncode == 0, result.stdout[-4000:]
        return result

    def sh(self, script: str, check: bool = True) -> str:
        result = docker("exec", self.name, "sh", "-c", script, check=check)
        return result.stdout.strip()

    def python(self, script: str, *args: str) -> str:
        return app_python(self.name, script, *args, app=NAME)

    def succeeded(self, case: str, since: str) -> list[str]:
        """Tokens of the case's tasks the worker's journal shows as succeeded, repeats kept."""
        journal = self.sh(f"journalctl -u celery-worker --since='{since}' -o cat --no-pager")
        return re.findall(rf"succeeded in [0-9.e-]+s: '({re.escape(case)}-\d+)'", journal)

    def wait_for(self, case: str, since: str, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            done = self.succeeded(case, since)
            if len(set(done)) >= count or time.monotonic() > deadline:
                return done
            time.sleep(2)

    def dead_letters(self, *command: str) -> str:
        """The README's command for the dead-letter queue, as the app's account."""
        result = docker("exec", self.name, "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
                        "--uid=celery", "--gid=celery", f"--property=EnvironmentFile=/etc/{NAME}/celery.env",
                        f"/opt/{NAME}/venv/bin/python", "-m", "celery_stack.dead_letters", *command, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.strip()

    def capsized(self, token: str, since: str) -> int:
        journal = self.sh(f"journalctl -u celery-worker --since='{since}' -o cat --no-pager")
        return journal.count(f"capsizing {token}")

    def wait_dead(self, token: str, since: str, deliveries: int, timeout: float) -> list[dict]:
        """The dead-letter queue's tasks once the token's task started that many times and
        waits there."""
        deadline = time.monotonic() + timeout
        while True:
            dead = [json.loads(line) for line in self.dead_letters("list").splitlines()]
            if (self.capsized(token, since) >= deliveries and any(token in str(d["args"]) for d in dead)) \
                    or time.monotonic() > deadline:
                return dead
            time.sleep(2)

    def now(self) -> str:
        return self.sh("date '+%Y-%m-%d %H:%M:%S'")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    name = start_container("ownapp")
    try:
        deployed = Stack(name, tmp_path_factory.mktemp("inventory"))
        deployed.sources = tmp_path_factory.mktemp("sources")
        deployed.first = deployed.converge(celery_app_src_path=str(setup_py_tree(deployed.sources / "setup-py")))
        yield deployed
    finally:
        docker("rm", "-f", name, check=False)


def test_a_setup_py_tree_deploys_again_without_a_change(stack):
    # The app's playbook, as an operator ships a release (the broker's own second run
    # is the cluster scenario's, with TLS too).
    again = stack.converge(playbook="playbooks/app.yml")
    assert recap(again, stack.name)["changed"] == 0, again.stdout.split("PLAY RECAP")[-1]


def test_the_certificates_are_made_and_installed_once_per_run(stack):
    # site.yml brings the pki role into the broker's, the worker's, beat's and Flower's
    # plays; the CA, this host's certificate and the monitoring copy are done in the first.
    for task in ("pki : Create the CA's private key", "pki : Create this host's private key",
                 "pki : Copy the CA certificate, this host's certificate and its key"):
        assert stack.first.stdout.count(f"TASK [{task}]") == 1, task


def test_its_task_queue_is_a_quorum_queue_on_a_topic_exchange(stack):
    queues = stack.sh(f"rabbitmqctl -q list_queues -p {VHOST} name type --formatter json")
    assert {"name": "celery", "type": "quorum"} in json.loads(queues)
    exchanges = json.loads(stack.sh(f"rabbitmqctl -q list_exchanges -p {VHOST} name type --formatter json"))
    assert {"name": "celery", "type": "topic"} in exchanges


def test_its_tasks_come_back_through_the_deployed_worker(stack):
    assert stack.python(ROUND_TRIP) == "invoice 7: 12.50"


def test_every_connection_of_the_app_is_tls_with_the_certificate_checked(stack):
    connections = json.loads(stack.sh("rabbitmqctl -q list_connections vhost ssl ssl_protocol --formatter json"))
    ours = [c for c in connections if c["vhost"] == VHOST]
    assert len(ours) >= 3  # the worker, beat, Flower
    assert {(c["ssl"], c["ssl_protocol"]) for c in ours} <= {(True, "tlsv1.3"), (True, "tlsv1.2")}
    refused = stack.python(OTHER_CA)
    assert refused.startswith("refused: ") and "CERTIFICATE_VERIFY_FAILED" in refused, refused


def test_a_broker_crash_right_after_400_confirmed_publishes_loses_none(stack):
    since = stack.now()
    case = f"burst{uuid.uuid4().hex[:6]}"
    assert stack.python(SEND, case, "400", "0.02") == "sent 400"
    stack.sh("systemctl kill --signal=SIGKILL rabbitmq-server")
    done = stack.wait_for(case, since, 400, timeout=300)
    lost = 400 - len(set(done))
    print(f"\nbroker SIGKILL after 400 publishes: completed {len(set(done))}, lost {lost}, "
          f"twice {len(done) - len(set(done))}")
    assert lost == 0
    assert stack.sh("systemctl is-active rabbitmq-server celery-worker").split() == ["active", "active"]


def test_a_worker_killed_mid_task_loses_it_not(stack):
    since = stack.now()
    case = f"killed{uuid.uuid4().hex[:6]}"
    stack.python(SEND, case, "1", "8")
    deadline = time.monotonic() + 60
    while "Task shipyard.pack[" not in stack.sh(f"journalctl -u celery-worker --since='{since}' -o cat --no-pager") \
            and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # well inside the 8 s it takes
    stack.sh("systemctl kill --signal=SIGKILL celery-worker")
    done = stack.wait_for(case, since, 1, timeout=120)
    print(f"\nworker SIGKILL mid-task: completed {len(done)} time(s)")
    assert done == [f"{case}-0"]


def test_tasks_near_the_brokers_one_minute_timeout_run_once(stack):
    # Its own app's settings ask for nothing of the sort: the limit is the deployment's.
    assert stack.sh("rabbitmqctl -q eval 'application:get_env(rabbit, consumer_timeout).'") \
        == f"{{ok,{CONSUMER_TIMEOUT_MS}}}"
    since = stack.now()
    case = f"overrun{uuid.uuid4().hex[:6]}"
    outcome = json.loads(stack.python(TIMEOUTS, case, "30", "90", str(WAIT_PAST_TIMEOUT)))
    print(f"\nconsumer_timeout {CONSUMER_TIMEOUT_MS // 1000} s, hard limit {TIME_LIMIT} s: {outcome}")
    # The probe's unacknowledged delivery was taken back within the wait: the broker's
    # timeout was live all along, so a task it took back would have been received again.
    assert outcome["probe"] and "406" in outcome["probe"]["error"] and "timed out" in outcome["probe"]["error"], outcome
    assert outcome["short"] == ["SUCCESS", f"{case}-0"], outcome
    assert outcome["long"] == ["FAILURE", "TimeLimitExceeded"], outcome
    assert TIME_LIMIT <= outcome["long_seconds"] < CONSUMER_TIMEOUT_MS / 1000, outcome
    journal = stack.sh(f"journalctl -u celery-worker --since='{since}' -o cat --no-pager")
    assert len(re.findall(r"Task shipyard\.pack\[[0-9a-f-]+\] received", journal)) == 2, journal
    assert f"Hard time limit ({TIME_LIMIT}s) exceeded for shipyard.pack" in journal, journal
    assert stack.succeeded(case, since) == [f"{case}-0"]


def test_a_leaking_task_costs_new_pool_processes_not_the_host(stack):
    # 100 calls that each keep 50 MiB: 5 GB in one process without a bound.
    since = stack.now()
    case = f"hoard{uuid.uuid4().hex[:6]}"
    stop = f"/tmp/{case}.stop"
    docker("exec", "-i", stack.name, "sh", "-c", f"cat > /tmp/{case}.py", input=RSS_SAMPLER)
    docker("exec", "-d", stack.name, "sh", "-c", f"python3 /tmp/{case}.py {stop} > /tmp/{case}.rss 2>&1")
    assert stack.python(SEND, case, "100", "50", "hoard") == "sent 100"
    journal_done = []
    deadline = time.monotonic() + 240
    while len(set(journal_done)) < 100 and time.monotonic() < deadline:
        time.sleep(2)
        journal = stack.sh(f"journalctl -u celery-worker --since='{since}' -o cat --no-pager")
        journal_done = re.findall(rf"succeeded in [0-9.e-]+s: '({case}-\d+)'", journal)
    stack.sh(f"touch {stop}; sleep 1")
    sampled = stack.sh(f"cat /tmp/{case}.rss")
    assert re.fullmatch(r"\d+ \d+", sampled), sampled
    largest, processes = map(int, sampled.split())
    print(f"\n100 calls keeping 50 MiB each, bound {MEMORY_BOUND_KIB // 1024} MiB: completed {len(set(journal_done))}, "
          f"largest pool process {largest // 1024} MiB, pool processes seen {processes}")
    assert sorted(set(journal_done)) == sorted(f"{case}-{i}" for i in range(100))
    # The bound is checked after each task: a process may pass it by the one call that
    # crossed it, never more.
    assert largest < MEMORY_BOUND_KIB + 50 * 1024 + 16 * 1024
    assert stack.sh("systemctl is-active celery-worker") == "active"


def test_a_task_that_kills_its_worker_process_ends_in_the_dead_letter_queue_and_goes_back_on_command(stack):
    since = stack.now()
    case = f"capsize{uuid.uuid4().hex[:6]}"
    token = f"{case}-0"
    # Its own app declares no policy, dead-letter exchange or limit: the deployment's.
    assert stack.python(SEND, case, "1", "0", "capsize") == "sent 1"
    assert stack.python(SEND, f"{case}ok", "20", "0") == "sent 20"
    good = stack.wait_for(f"{case}ok", since, 20, timeout=180)
    dead = stack.wait_dead(token, since, DELIVERY_LIMIT + 1, timeout=180)
    deliveries = stack.capsized(token, since)
    print(f"\na task that kills its worker process, delivery limit {DELIVERY_LIMIT}: delivered {deliveries} times, "
          f"dead-lettered {len(dead)}; the 20 beside it completed {len(set(good))}, twice {len(good) - len(set(good))}")
    assert sorted(good) == sorted(f"{case}ok-{i}" for i in range(20))
    assert deliveries == DELIVERY_LIMIT + 1
    (entry,) = dead
    assert (entry["task"], entry["queue"], entry["reason"]) == ("shipyard.capsize", "celery", "delivery_limit")
    assert token in entry["args"]

    assert stack.dead_letters("requeue") == f"requeued {entry['id']} to celery"
    again = stack.wait_dead(token, since, 2 * (DELIVERY_LIMIT + 1), timeout=180)
    assert stack.capsized(token, since) == 2 * (DELIVERY_LIMIT + 1) and [d["id"] for d in again] == [entry["id"]]
    assert stack.dead_letters("drop", entry["id"]) == f"dropped {entry['id']}"
    assert stack.dead_letters("list") == ""
    assert stack.sh("systemctl is-active celery-worker") == "active"


def test_flower_lists_its_task_names(stack):
    result = docker("exec", "-i", "-e", "PASSWORD", stack.name, "python3", "-", input=FLOWER_TASKS,
                    env={**os.environ, "PASSWORD": FLOWER_PASSWORD})
    names = json.loads(result.stdout)
    assert {"shipyard.invoice", "shipyard.pack"} <= set(names)


def test_as_a_wheel_and_from_git_it_keeps_every_guarantee(stack, tmp_path):
    # New releases of the app, shipped as an operator would: the brokers left alone.
    stack.converge(celery_app_wheel=str(build_wheel(APP, tmp_path / "dist")), playbook="playbooks/app.yml")
    assert stack.python(ROUND_TRIP) == "invoice 7: 12.50"

    work = tmp_path / "work"
    shutil.copytree(APP, work)
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "shipyard 0.3.0")
    publish(work, stack.name, "/srv/shipyard.git")
    stack.converge(celery_app_git_url="file:///srv/shipyard.git", celery_app_git_version="main",
                   playbook="playbooks/app.yml")
    assert stack.python(ROUND_TRIP) == "invoice 7: 12.50"
    # Three releases of the app, one queue: still quorum, still TLS.
    assert stack.sh(f"ls /opt/{NAME}/releases | wc -l") == "3"
    assert {"name": "celery", "type": "quorum"} in json.loads(
        stack.sh(f"rabbitmqctl -q list_queues -p {VHOST} name type --formatter json"))
    connections = json.loads(stack.sh("rabbitmqctl -q list_connections vhost ssl --formatter json"))
    assert all(c["ssl"] for c in connections if c["vhost"] == VHOST)


def test_an_app_name_that_does_not_import_stops_the_run_at_the_workers_gate_with_the_error(stack):
    # Same code and directories, only the module name is wrong: nothing to build again.
    result = stack.converge(expect_ok=False, playbook="playbooks/app.yml", celery_app_name="shipyard.nosuch",
                            celery_worker_gate_timeout=10,
                            celery_app_home=f"/opt/{NAME}", celery_app_config_dir=f"/etc/{NAME}")
    flat = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "Deploy gate: celery-worker.service did not pass" in flat
    assert "CELERY_STACK_APP='shipyard.nosuch' does not import: ModuleNotFoundError" in flat
