"""One host through its life: check mode while it is fresh, a verbose converge, check
mode once converged, then a search for the secrets everywhere an operator or another
local user could read them.

The three runs happen once (module fixture), in that order; each test reads what it
needs from them.
"""

import re
from dataclasses import dataclass
from subprocess import CompletedProcess

import pytest

from conftest import (BROKER_PASSWORD, FLOWER_PASSWORD, GROUPS, base_vars, docker, host_state,
                      run_playbook, start_container, write_inventory)

SECRETS = (BROKER_PASSWORD, FLOWER_PASSWORD)


@dataclass
class Life:
    host: str
    fresh_state: dict
    state_after_check: dict
    check_fresh: CompletedProcess
    converge: CompletedProcess
    check_converged: CompletedProcess


def recap(result: CompletedProcess, host: str) -> dict:
    line = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", result.stdout, re.M)
    assert line, result.stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    host = start_container("lifecycle")
    try:
        inventory = tmp_path_factory.mktemp("inventory")
        write_inventory(inventory, host, base_vars(), list(GROUPS))
        fresh = host_state(host)
        check_fresh = run_playbook(inventory, "site.yml", "--check", "--diff")
        after_check = host_state(host)
        converge = run_playbook(inventory, "site.yml", "-v")
        check_converged = run_playbook(inventory, "site.yml", "--check", "--diff")
        yield Life(host, fresh, after_check, check_fresh, converge, check_converged)
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


def test_environment_files_are_root_group_0640(life):
    stats = sh(life.host, "stat -c '%U:%G %a %n' /etc/test_celery/celery.env /etc/test_celery/flower.env").splitlines()
    assert stats == ["root:celery 640 /etc/test_celery/celery.env", "root:celery 640 /etc/test_celery/flower.env"]
    # ...and they are where the secrets do live.
    assert BROKER_PASSWORD in sh(life.host, "cat /etc/test_celery/celery.env")


def test_management_api_and_flower_listen_on_loopback_only(life):
    listening = sh(life.host, "ss -Hltn | awk '{print $4}'").split()
    assert "127.0.0.1:15672" in listening
    assert "127.0.0.1:5555" in listening
    assert not [a for a in listening if a.endswith((":15672", ":5555")) and not a.startswith("127.0.0.1:")]


def test_guest_is_gone(life):
    users = sh(life.host, "rabbitmqctl --quiet list_users --formatter json")
    assert '"doky"' in users and '"guest"' not in users
