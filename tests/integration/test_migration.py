"""A deployment from before quorum queues, moved to them as an operator would: the roles
of commit e3a0ec2 (classic queue, Celery's direct exchange) converge a host; 20 tasks wait
in the queue with the worker stopped (10 sent before a --check run of the current roles'
playbooks/migrate-queues.yml, which must move nothing, 10 with a countdown after it); the
playbook then moves the queue and converges the stack. Every task must run
once, no countdown task before its time, the queue must be a quorum queue under the
delivery limit, and the next site.yml must change nothing.

The run of the old roles happens once (a session fixture: the test that waits for the
countdowns runs after every other file of the run); each test reads what it needs.
"""

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from conftest import ROOT, base_vars, docker, recap, run_playbook, start_container, write_inventory

# The roles as they were before quorum queues (2026-11-25).
BEFORE_QUORUM = "e3a0ec2"
OLD_GROUPS = ["rabbitmq", "celery_workers", "flower"]
# Random per run; plain, as those roles' own tests had them.
PASSWORD = secrets.token_hex(16)
# Long enough for the move and the converge to start the worker before the first is due
# (test_the_worker_was_back_before_the_countdowns_were_due says so): about 80 s here
# alone, about 270 s beside the other lanes of make test; the tasks with a countdown are
# sent after the --check run, so it does not count. The test that waits for them runs
# last (pytest.mark.last): in make test, the own app's tests run meanwhile.
COUNTDOWN = 500
RUNS = "/var/lib/celery-worker/runs.log"
ENVIRONMENT = {"TEST_CELERY_RECORD_DIR": "/var/lib/celery-worker"}
# Ten plain tasks (argv[1] "0"), or ten with the countdown (argv[1] "10").
SEND = f"""
import json, sys, time
from test_celery.celery import app
etas = {{}}
first = int(sys.argv[1])
for i in range(first, first + 10):
    countdown = {COUNTDOWN} if first else None
    app.send_task("test_celery.tasks.record_run", args=(f"moved-{{i}}", 0), countdown=countdown)
    if countdown:
        etas[f"moved-{{i}}"] = time.time() + countdown
print(json.dumps(etas))
"""


def old_vars() -> dict:
    """The inventory of a deployment of those roles (their tests' own)."""
    return {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
        "rabbitmq_vhosts": [{"name": "doky_host"}],
        "rabbitmq_users": [{"name": "doky", "password": PASSWORD, "tags": ["doky_tag"],
                            "permissions": [{"vhost": "doky_host", "configure": ".*", "write": ".*", "read": ".*"}]}],
        "celery_app_broker_user": "doky",
        "celery_app_broker_vhost": "doky_host",
        "celery_app_broker_password": PASSWORD,
        "celery_worker_concurrency": 2,
        "celery_app_environment": ENVIRONMENT,
        "flower_basic_auth": [{"username": "admin", "password": PASSWORD}],
    }


def new_vars() -> dict:
    """The same deployment's inventory as the current roles take it (CHANGELOG's notes: the
    app's broker account named once, in the celery_app_broker_* variables)."""
    variables = dict(base_vars(), celery_app_broker_password=PASSWORD, celery_app_environment=ENVIRONMENT)
    return variables


@dataclass
class Moved:
    host: str
    etas: dict
    queued: str
    checked: CompletedProcess
    after_check: str
    migrate: CompletedProcess
    migrated_at: float
    queues_after: list
    again: CompletedProcess


def sh(host: str, script: str, check=True) -> str:
    return docker("exec", host, "sh", "-c", script, check=check).stdout


def old_app_python(host: str, script: str, *args: str) -> str:
    result = docker("exec", "-i", host, "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
                    "--uid=celery", "--gid=celery", "--property=EnvironmentFile=/etc/test_celery/celery.env",
                    "/opt/test_celery/venv/bin/python", "-", *args, input=script, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def queues(host: str) -> list:
    out = sh(host, "rabbitmqctl -q list_queues -p doky_host name type messages arguments policy --formatter json")
    return json.loads(out)


@pytest.fixture(scope="session")
def moved(tmp_path_factory):
    old = tmp_path_factory.mktemp("roles") / BEFORE_QUORUM
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), BEFORE_QUORUM],
                   check=True, capture_output=True)
    host = start_container("migration")
    try:
        inventory = tmp_path_factory.mktemp("inventory")
        write_inventory(inventory, host, old_vars(), OLD_GROUPS)
        exe = ROOT / ".venv" / "bin" / "ansible-playbook"
        converge = subprocess.run([str(exe), "-i", str(inventory / "hosts.yml"), "site.yml"], cwd=old,
                                  env=dict(os.environ, ANSIBLE_CONFIG=str(old / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
                                  capture_output=True, text=True, timeout=1200)
        assert converge.returncode == 0, converge.stdout[-3000:] + converge.stderr[-2000:]
        sh(host, "systemctl stop celery-worker")
        old_app_python(host, SEND, "0")
        write_inventory(inventory, host, new_vars(), OLD_GROUPS)
        checked = run_playbook(inventory, "playbooks/migrate-queues.yml", "--check", "--diff")
        after_check = sh(host, "rabbitmqctl -q list_queues -p doky_host name type messages; "
                               "systemctl is-active celery-worker || true")
        # The countdowns start now: only the move itself must fit inside them.
        etas = json.loads(old_app_python(host, SEND, "10"))
        queued = sh(host, "rabbitmqctl -q list_queues -p doky_host name type messages")
        migrate = run_playbook(inventory, "playbooks/migrate-queues.yml")
        migrated_at = time.time()
        after = queues(host)
        again = run_playbook(inventory, "site.yml")
        yield Moved(host, etas, queued, checked, after_check, migrate, migrated_at, after, again)
    finally:
        # MIGRATION_KEEP=1 keeps the host for a look after a failure.
        if not os.environ.get("MIGRATION_KEEP"):
            docker("rm", "-f", host, check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)


def test_the_old_deployment_held_the_tasks_in_a_classic_queue(moved):
    assert any(line.split() == ["celery", "classic", "20"] for line in moved.queued.splitlines()), moved.queued


def test_a_check_run_says_what_would_move_and_moves_nothing(moved):
    assert moved.checked.returncode == 0, moved.checked.stdout[-4000:] + moved.checked.stderr[-2000:]
    # (the output's YAML folds long lines)
    assert "queue 'celery' on vhost 'doky_host' is a classic queue, but the app declares it quorum" \
        in " ".join(moved.checked.stdout.split()), moved.checked.stdout[-4000:]
    # the ten tasks sent before it still in the classic queue, the worker still stopped
    assert any(line.split() == ["celery", "classic", "10"] for line in moved.after_check.splitlines()), \
        moved.after_check
    assert moved.after_check.splitlines()[-1] == "inactive", moved.after_check


def test_the_migration_runs_to_the_end(moved):
    assert moved.migrate.returncode == 0, moved.migrate.stdout[-4000:] + moved.migrate.stderr[-2000:]
    assert '"out": 20, "back": 20' in moved.migrate.stdout, moved.migrate.stdout[-4000:]


def test_the_queue_is_a_quorum_queue_under_the_delivery_limit_and_no_holding_queue_is_left(moved):
    by_name = {queue["name"]: queue for queue in moved.queues_after}
    assert by_name["celery"]["type"] == "quorum", by_name
    assert by_name["celery"]["policy"] == "app-dead-letter", by_name
    assert "celery.migrating" not in by_name


def test_the_worker_was_back_before_the_countdowns_were_due(moved):
    # else the next test could not tell a countdown kept from one lost on the way
    assert moved.migrated_at < min(moved.etas.values()), (moved.migrated_at, min(moved.etas.values()))


@pytest.mark.last
def test_every_task_runs_once_and_no_countdown_task_before_its_time(moved):
    deadline = max(moved.etas.values()) + 120
    while True:
        lines = [line.split() for line in sh(moved.host, f"cat {RUNS}", check=False).splitlines()]
        done = {parts[1] for parts in lines if parts[0] == "done" and parts[1].startswith("moved-")}
        if len(done) == 20 or time.time() > deadline:
            break
        time.sleep(2)
    starts = [parts for parts in lines if parts[0] == "start" and parts[1].startswith("moved-")]
    tokens = [parts[1] for parts in starts]
    assert sorted(set(tokens)) == sorted(f"moved-{i}" for i in range(20)), tokens
    assert len(tokens) == 20, f"ran twice: {sorted({t for t in tokens if tokens.count(t) > 1})}"
    early = {parts[1]: float(parts[3]) - moved.etas[parts[1]] for parts in starts
             if parts[1] in moved.etas and float(parts[3]) < moved.etas[parts[1]] - 1}
    assert early == {}, f"seconds before their time: {early}"


def test_the_next_converge_changes_nothing(moved):
    assert moved.again.returncode == 0, moved.again.stdout[-3000:]
    assert recap(moved.again, moved.host)["changed"] == 0, moved.again.stdout[-3000:]
