"""One host through its life: check mode while it is fresh, a verbose converge, check
mode once converged, then a search for the secrets everywhere an operator or another
local user could read them. Last, broken deploys on the converged host (playbooks/app.yml):
each must fail the run at its deploy gate, and a good converge of site.yml afterwards must
bring the stack back.

The three runs happen once (module fixture), in that order; each test reads what it
needs from them.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from urllib.parse import quote

import pytest

from conftest import (BROKER_PASSWORD, FLOWER_PASSWORD, GROUPS, MONITOR_PASSWORD, CmdlineSampler, base_vars, docker, host_state,
                      recap, run_playbook, start_container, write_inventory)

# Each password as given, as it stands URL-encoded in the broker URL, and the random
# hex runs inside each: a shell or a wrapper may rewrite the rest of a password on its way
# to a command line, never those.
SECRETS = tuple({BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, quote(BROKER_PASSWORD, safe="")}
                | set(re.findall(r"[0-9a-f]{16}", BROKER_PASSWORD + FLOWER_PASSWORD + MONITOR_PASSWORD)))


@dataclass
class Life:
    host: str
    inventory: Path
    fresh_state: dict
    state_after_check: dict
    check_fresh: CompletedProcess
    converge: CompletedProcess
    check_converged: CompletedProcess
    # Every process command line, sampled inside the host and on this machine during the converge.
    cmdlines_during_converge: list


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    host = start_container("lifecycle")
    try:
        inventory = tmp_path_factory.mktemp("inventory")
        write_inventory(inventory, host, base_vars(), list(GROUPS))
        fresh = host_state(host)
        check_fresh = run_playbook(inventory, "site.yml", "--check", "--diff")
        after_check = host_state(host)
        with CmdlineSampler(host) as sampler:
            converge = run_playbook(inventory, "site.yml", "-v")
        check_converged = run_playbook(inventory, "site.yml", "--check", "--diff")
        yield Life(host, inventory, fresh, after_check, check_fresh, converge, check_converged, sampler.samples)
    finally:
        docker("rm", "-f", host, check=False)


def sh(host: str, script: str) -> str:
    return docker("exec", host, "sh", "-c", script).stdout


def test_check_mode_on_a_fresh_host_runs_to_the_end_and_changes_nothing(life):
    assert life.check_fresh.returncode == 0, life.check_fresh.stdout[-3000:]
    assert recap(life.check_fresh, life.host)["failed"] == 0
    # It says why it cannot preview the rest, instead of failing.
    assert "Check mode: rabbitmq-server is not installed yet" in life.check_fresh.stdout
    assert life.state_after_check == life.fresh_state


def test_the_verbose_converge_succeeds(life):
    assert life.converge.returncode == 0, life.converge.stdout[-3000:]
    assert recap(life.converge, life.host)["changed"] > 0


def test_check_mode_on_a_converged_host_reports_no_change(life):
    assert life.check_converged.returncode == 0, life.check_converged.stdout[-3000:]
    counts = recap(life.check_converged, life.host)
    assert counts["changed"] == 0 and counts["failed"] == 0, life.check_converged.stdout[-3000:]


@pytest.mark.parametrize("run", ["check_fresh", "converge", "check_converged"])
def test_no_secret_in_ansible_output_even_at_v(life, run):
    result = getattr(life, run)
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_no_secret_in_the_journal(life):
    journal = sh(life.host, "journalctl --no-pager -o cat")
    assert "celery@" in journal  # the worker did log
    for secret in SECRETS:
        assert secret not in journal


def test_no_secret_in_process_command_lines_or_unit_files(life):
    places = sh(life.host, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; cat /etc/systemd/system/*.service")
    assert "celery" in places
    for secret in SECRETS:
        assert secret not in places


def test_no_secret_on_any_command_line_at_any_moment_of_the_converge(life):
    seen = "\n".join(life.cmdlines_during_converge)
    # The sampler was quick enough to see short commands: each rabbitmqctl call lasts about a second.
    assert len(life.cmdlines_during_converge) > 50
    assert "rabbitmqctl" in seen
    for secret in SECRETS:
        assert secret not in seen


LOGIN = """
import base64, json, sys, urllib.request
import amqp
broker, flower = json.load(sys.stdin)
connection = amqp.Connection("127.0.0.1:5672", userid="doky", password=broker, virtual_host="doky_host")
connection.connect()
connection.close()
request = urllib.request.Request("http://127.0.0.1:5555/api/workers")
request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{flower}".encode()).decode())
print("broker login ok; flower", urllib.request.urlopen(request, timeout=10).status)
"""


def test_the_passwords_exactly_as_given_log_in_to_the_broker_and_to_flower(life):
    # Spaces at both ends, $, backticks, quotes, backslashes and % must survive every hop.
    result = docker("exec", "-i", life.host, "/opt/test_celery/venv/bin/python", "-c", LOGIN,
                    input=json.dumps([BROKER_PASSWORD, FLOWER_PASSWORD]), check=False)
    assert result.stdout.strip() == "broker login ok; flower 200", result.stderr[-1500:]


# Flower lists the queues its workers consume (from its last look at them), with the
# lengths the management API gives: refresh the workers first, as the Workers page does,
# and give it a few tries.
QUEUES = """
import base64, json, sys, time, urllib.request
auth = "Basic " + base64.b64encode(f"admin:{sys.stdin.read()}".encode()).decode()
def get(path):
    request = urllib.request.Request("http://127.0.0.1:5555/api/" + path)
    request.add_header("Authorization", auth)
    return json.load(urllib.request.urlopen(request, timeout=30))
names = []
for _ in range(10):
    get("workers?refresh=true")
    names = sorted(q["name"] for q in get("queues/length")["active_queues"])
    if names:
        break
    time.sleep(1)
print(json.dumps(names))
"""


def test_flowers_broker_view_reads_the_queues_with_the_monitoring_users_password(life):
    # Flower logs in to the management API with the monitoring user's password of
    # awkward characters; a failed login shows as an empty list.
    result = docker("exec", "-i", life.host, "/opt/test_celery/venv/bin/python", "-c", QUEUES,
                    input=FLOWER_PASSWORD, check=False)
    assert "celery" in json.loads(result.stdout or "[]"), result.stdout + result.stderr[-1500:]
    assert "Unauthorized" not in sh(life.host, "journalctl -u flower --no-pager -o cat")


def test_environment_files_are_root_and_their_units_group_0640(life):
    stats = sh(life.host, "stat -c '%U:%G %a %n' /etc/test_celery/celery.env /etc/test_celery/flower.env").splitlines()
    assert stats == ["root:celery 640 /etc/test_celery/celery.env", "root:flower 640 /etc/test_celery/flower.env"]
    # ...and they are where the secrets do live (the broker URL carries the password URL-encoded).
    assert quote(BROKER_PASSWORD, safe="") in sh(life.host, "cat /etc/test_celery/celery.env")


LOOPBACK_PORTS = (":15672", ":15692", ":5555", ":4369", ":25672")


def test_management_api_metrics_flower_and_erlang_ports_listen_on_loopback_only(life):
    # A single broker: epmd (4369), the Erlang distribution (25672) and the Prometheus
    # endpoint (15692) are no one else's.
    listening = sh(life.host, "ss -Hltn | awk '{print $4}'").split()
    for port in LOOPBACK_PORTS:
        assert "127.0.0.1" + port in listening
    assert not [a for a in listening if a.endswith(LOOPBACK_PORTS) and not a.startswith("127.0.0.1:")], listening


def test_guest_is_gone(life):
    users = sh(life.host, "rabbitmqctl --quiet list_users --formatter json")
    assert '"doky"' in users and '"guest"' not in users


def test_a_queue_type_the_broker_would_refuse_stops_the_run_before_any_change(life, tmp_path):
    # The broker holds the app's queue as a quorum queue now; asking for classic queues (or
    # the other way round, a deployment from before quorum queues) would leave the workers
    # unable to declare, so unable to consume, their queue.
    worker_before = sh(life.host, "systemctl show -p InvocationID --value celery-worker")
    write_inventory(tmp_path, life.host, dict(base_vars(), celery_app_queue_type="classic"), list(GROUPS))
    result = run_playbook(tmp_path, "site.yml")
    flat = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, result.stdout[-3000:]
    assert "queue 'celery' on vhost 'doky_host' is a quorum queue, but the app declares it classic" in flat, result.stdout[-3000:]
    assert "Set celery_app_queue_type to the type the queue has" in flat
    assert recap(result, life.host)["changed"] == 0
    assert sh(life.host, "systemctl show -p InvocationID --value celery-worker") == worker_before


# Broken deploys, run last because they change the host; each ends with a failed run.
GATE_CASES = [
    ("worker that cannot start", {"celery_worker_extra_args": ["--no-such-option"]},
     "celery-worker", "No such option"),
    # A broker URL of the operator's own that no inventory broker answers to, so only the
    # gate can tell: the app's vhost is then the operator's to declare.
    ("worker that cannot reach the broker",
     {"celery_app_broker_url": "amqp://doky:x@127.0.0.2:5999/doky_host", "rabbitmq_vhosts": [{"name": "doky_host"}]},
     "celery-worker", "Cannot connect to amqp://doky:**@127.0.0.2:5999"),
    # epmd holds 4369 on the loopback address of a broker host, where Flower listens too.
    ("Flower that cannot start", {"flower_port": 4369},
     "flower", "Address already in use"),
]


@pytest.mark.parametrize(("overrides", "unit", "journal_says"), [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES])
def test_a_broken_deploy_fails_at_the_gate_naming_the_unit_and_its_journal(life, tmp_path, overrides, unit, journal_says):
    variables = dict(base_vars(), celery_worker_gate_timeout=12, flower_gate_timeout=12, **overrides)
    write_inventory(tmp_path, life.host, variables, list(GROUPS))
    # The app's playbook, as an operator ships a release: the gates are the same in
    # site.yml, and the brokers' plays would only find nothing to do.
    result = run_playbook(tmp_path, "playbooks/app.yml")
    flat = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, result.stdout[-3000:]
    assert f"Deploy gate: {unit}.service did not pass" in flat, result.stdout[-3000:]
    assert f"lines of journalctl -u {unit}" in flat
    assert journal_says in flat, result.stdout[-3000:]
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_a_good_converge_after_broken_ones_passes_every_gate(life):
    result = run_playbook(life.inventory, "site.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Wait until the worker answers a Celery ping" in result.stdout
    assert "Wait until beat has started, stays up and reaches the broker" in result.stdout
    states = sh(life.host, "systemctl is-active celery-worker celery-beat flower rabbitmq-server").split()
    assert states == ["active", "active", "active", "active"]
