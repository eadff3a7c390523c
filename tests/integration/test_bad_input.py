"""Bad input stops the run before any host changes, with a message that names the
variable and the form it expects.

Each case takes a valid inventory (the baseline test proves it passes every check),
breaks one thing, runs the whole site.yml against a fresh container and asserts the
message, that no task reported a change, that no secret was printed, and that the
container holds the same packages, accounts and files as before.

What the argument specs, each role's input rules and the checks between roles decide is
proven where it is decided, without a container (tests/test_argument_specs.py,
tests/test_role_inputs.py, tests/test_stack_filter.py); a few cases of each stay here, to
show that the real run stops on them before any change and prints no secret.
"""

import copy
import re

import pytest
import yaml

from urllib.parse import quote

from conftest import (BROKER_PASSWORD, FLOWER_PASSWORD, GROUPS, MONITOR_PASSWORD, base_vars, host_state, run_playbook,
                      write_inventory)
from support.inventory import with_own_url  # on the path through conftest


def setter(key, value):
    def change(variables, groups):
        variables[key] = value
    return change


def deleter(key):
    def change(variables, groups):
        del variables[key]
    return change


def own_url(url):
    def change(variables, groups):
        with_own_url(variables, url)
    return change


def add_user(entry):
    def change(variables, groups):
        variables["rabbitmq_users"].append(entry)
    return change


def both(*changes):
    def change(variables, groups):
        for one in changes:
            one(variables, groups)
    return change


# A few of each kind, end to end: the checks run by the real site.yml stop it before any
# change and print no secret. The others are unit tests where each rule is decided:
# tests/test_argument_specs.py, tests/test_role_inputs.py, tests/test_stack_filter.py.
# (id, change, phrases the output must hold: the variable and the expected form)
CASES = [
    # An argument spec.
    ("missing flower credentials", deleter("flower_basic_auth"),
     ["missing required arguments: flower_basic_auth"]),
    # Each role's own rules (plugins/filter/inputs.py).
    ("missing broker password", deleter("celery_app_broker_password"),
     ["celery_app_broker_password is not set", "ansible-vault"]),
    ("zero concurrency", setter("celery_worker_concurrency", 0),
     ["celery_worker_concurrency must be a positive number"]),
    ("beat on a host without the app", setter("celery_beat_host", "elsewhere.example"),
     ["celery_beat_host must be one of the app's hosts", "got 'elsewhere.example'"]),
    ("Flower as the app's account", setter("flower_user", "celery"),
     ["flower_user must not be the app's account 'celery'"]),
    ("no Erlang cookie", deleter("rabbitmq_erlang_cookie"),
     ["rabbitmq_erlang_cookie must be 20 to 255 letters and digits", "it is not set"]),
    ("own certificates that are not there",
     both(setter("rabbitmq_tls", True), setter("pki_generate", False), setter("pki_ca_file", "/nonexistent/ca.pem")),
     ["pki_ca_file names /nonexistent/ca.pem, which is not a file on the controller"]),
    # An own entry for the app's user that disagrees with the app's account, whose
    # password must not be printed either.
    ("own entry for the app's user with another password",
     add_user({"name": "doky", "password": "not " + BROKER_PASSWORD, "tags": ["doky_tag"],
               "permissions": [{"vhost": "doky_host", "configure": ".*", "write": ".*", "read": ".*"}]}),
     ["rabbitmq_users entry 'doky' differs from the app's broker account in password",
      "celery_app_broker_password"]),
    # The checks between roles (plugins/filter/stack.py).
    ("broker listens elsewhere than the app connects", setter("rabbitmq_amqp_port", 5673),
     ["celery_app_broker_port uses port 5672, but broker", "listens on 5673 (rabbitmq_amqp_port)"]),
]


def test_the_valid_inventory_passes_every_check(tmp_path, target):
    write_inventory(tmp_path, target, base_vars(), list(GROUPS))
    result = run_playbook(tmp_path, "playbooks/preflight.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout
    assert BROKER_PASSWORD not in result.stdout + result.stderr


def test_an_own_url_that_matches_the_broker_passes_the_checks_between_roles(tmp_path, target):
    variables, groups = copy.deepcopy(base_vars()), list(GROUPS)
    own_url("amqp://doky:" + quote(BROKER_PASSWORD, safe="") + "@127.0.0.1:5672/doky_host")(variables, groups)
    write_inventory(tmp_path, target, variables, groups)
    result = run_playbook(tmp_path, "playbooks/preflight.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Check that the roles agree with each other" in result.stdout


def test_every_kind_of_check_has_a_case_here():
    assert len({case[0] for case in CASES}) == len(CASES) >= 9


@pytest.mark.parametrize(("change", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_stops_before_any_change(tmp_path, target, change, expected):
    variables, groups = copy.deepcopy(base_vars()), list(GROUPS)
    change(variables, groups)
    write_inventory(tmp_path, target, variables, groups)
    before = host_state(target)

    result = run_playbook(tmp_path, "site.yml")
    output = result.stdout + result.stderr
    # Ansible folds long messages; compare with single spaces.
    flat = " ".join(output.split())

    assert result.returncode != 0, result.stdout[-3000:]
    for phrase in expected:
        assert phrase in flat, f"{phrase!r} not in output:\n{result.stdout[-3000:]}"
    assert re.search(r"^changed: \[", output, re.M) is None
    assert re.search(r"changed=[1-9]", output) is None
    for secret in (BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, quote(BROKER_PASSWORD, safe="")):
        assert secret not in output
    assert host_state(target) == before


def limited_run(tmp_path, target, variables, outside: dict, limit_groups, outside_groups):
    """site.yml --limit to the container, in an inventory that also holds a host the run
    never reaches (outside the limit, and not even a real machine)."""
    hosts = {"all": {"children": {group: {"hosts": {}} for group in GROUPS}}}
    for group in limit_groups:
        hosts["all"]["children"][group]["hosts"][target] = None
    for group in outside_groups:
        hosts["all"]["children"][group]["hosts"]["outside.example.internal"] = outside
    write_inventory(tmp_path, target, variables, [])
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    before = host_state(target)
    result = run_playbook(tmp_path, "site.yml", "--limit", target)
    output = result.stdout + result.stderr
    assert result.returncode != 0, result.stdout[-3000:]
    assert re.search(r"changed=[1-9]", output) is None
    assert "outside.example.internal" not in re.findall(r"^(?:ok|changed|fatal): \[([^]]+)\]", output, re.M)
    assert host_state(target) == before
    for secret in (BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD):
        assert secret not in output
    return " ".join(output.split())


def test_a_limit_to_the_app_still_checks_the_brokers_outside_it(tmp_path, target):
    """--limit to an app host whose broker, outside the limit, listens on another port."""
    variables = base_vars()
    variables["rabbitmq_cluster_hosts"] = [target]
    flat = limited_run(tmp_path, target, variables, {"rabbitmq_amqp_port": 5673},
                       limit_groups=GROUPS, outside_groups=["rabbitmq"])
    assert ("celery_app_broker_port uses port 5672, but broker outside.example.internal listens on 5673"
            f" (rabbitmq_amqp_port) (app hosts: {target})") in flat


def test_a_limit_to_a_broker_still_checks_the_apps_outside_it(tmp_path, target):
    """--limit to a broker moved to a port that the app hosts outside the limit do not use."""
    variables = base_vars()
    flat = limited_run(tmp_path, target, {**variables, "rabbitmq_amqp_port": 5673},
                       {}, limit_groups=["rabbitmq"],
                       outside_groups=["celery_workers", "celery_beat", "flower"])
    assert (f"celery_app_broker_port uses port 5672, but broker {target} listens on 5673 (rabbitmq_amqp_port)"
            " (app hosts: outside.example.internal)") in flat
