"""Each role's input rules beyond its argument spec (plugins/filter/inputs.py), over the
variables the role really sees: its defaults, the inventory and the playbooks' wiring,
evaluated by Ansible (tests/support/ansible_view.py), exactly what the role's preflight
hands the filter. Every message names the variable; none carries a secret.
"""

import re
from urllib.parse import quote
from pathlib import Path

import pytest
import yaml

from support.ansible_view import HostView
from support.plugins import load_filter
from support.inventory import BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, base_vars

ROOT = Path(__file__).resolve().parent.parent
inputs = load_filter("inputs")

# Passwords of the forms a rule refuses, built from the random one (no literal secrets).
COMMA_PASSWORD = ",".join([FLOWER_PASSWORD[:6], FLOWER_PASSWORD[6:]])
URL_BREAKING_PASSWORD = "/?#%".join([MONITOR_PASSWORD[:6], MONITOR_PASSWORD[6:]])
OTHER_PASSWORD = BROKER_PASSWORD[::-1]
ROLES = {"rabbitmq": "rabbitmq_", "celery_app": "celery_app_", "celery_worker": "celery_worker_", "celery_beat": "celery_beat_", "flower": "flower_", "pki": "pki_"}


# What the celery_app role's preflight passes besides its variables (roles/celery_app/vars).
OWNED_ENV = yaml.safe_load((ROOT / "roles" / "celery_app" / "vars" / "main.yml").read_text())["__celery_app_owned_env"]


def problems(role: str, *, groups: dict | None = None, **changes) -> list[str]:
    view = HostView({**base_vars(), **changes}, groups=groups)
    # The broker hosts' plays read the app's broker account first (playbooks/rabbitmq.yml).
    view.set_facts(ROOT / "roles" / "celery_app" / "tasks" / "broker_account.yml")
    rule = inputs.FilterModule().filters()[f"{role}_problems"]
    if role == "rabbitmq":
        # One broker, its own cluster (the role's __rabbitmq_cluster_nodes for one host).
        nodes = [{"host": "mq", "name": view["rabbitmq_node_name"], "address": view["rabbitmq_cluster_address"]}]
        found = rule(view.evaluated(ROLES[role]), nodes, [view.variables.get("rabbitmq_erlang_cookie", "")],
                     view["groups"]["all"], "mq")
    elif role == "celery_app":
        found = rule(view.evaluated(ROLES[role]), OWNED_ENV, str(ROOT / "app"), view["groups"]["all"])
    else:
        found = rule(view.evaluated(ROLES[role]))
    for message in found:
        for secret in (BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, COMMA_PASSWORD, URL_BREAKING_PASSWORD,
                       quote(BROKER_PASSWORD, safe=""), OTHER_PASSWORD, str(view.variables.get("rabbitmq_erlang_cookie"))):
            assert secret not in message
    return found


@pytest.mark.parametrize("role", ROLES)
def test_the_valid_inventory_passes(role):
    assert problems(role) == []


# (id, role, changes, phrases one message must hold)
CASES = [
    ("broker user without password", "rabbitmq",
     {"rabbitmq_users": [{"name": "monitor", "tags": ["monitoring"], "permissions": [{"vhost": "doky_host"}]}]},
     ["rabbitmq_users entries ['monitor'] have no password"]),
    ("AMQP port zero", "rabbitmq", {"rabbitmq_amqp_port": 0},
     ["rabbitmq_amqp_port must be a port number from 1 to 65535"]),
    ("management address out of range", "rabbitmq", {"rabbitmq_management_address": "999.1.1.1"},
     ["rabbitmq_management_address must be an IPv4 or IPv6 address"]),
    ("listener address that is no IPv6 address", "rabbitmq", {"rabbitmq_amqp_address": "1:2:3"},
     ["rabbitmq_amqp_address must be an IPv4 or IPv6 address", "got '1:2:3'"]),
    ("permission on an undeclared vhost", "rabbitmq",
     {"rabbitmq_users": [{"name": "monitor", "password": MONITOR_PASSWORD, "permissions": [{"vhost": "elsewhere"}]}]},
     ["vhost 'elsewhere'", "not in rabbitmq_vhosts"]),
    ("empty vhost name", "rabbitmq", {"rabbitmq_vhosts": [{"name": ""}]},
     ["rabbitmq_vhosts[].name must be a non-empty name"]),
    ("own entry for the app's user with another password", "rabbitmq",
     {"rabbitmq_users": [{"name": "doky", "password": OTHER_PASSWORD, "tags": ["doky_tag"],
                          "permissions": [{"vhost": "doky_host", "configure": ".*", "write": ".*", "read": ".*"}]}]},
     ["rabbitmq_users entry 'doky' differs from the app's broker account in password", "celery_app_broker_password"]),
    ("own entry for the app's user with other rights", "rabbitmq",
     {"rabbitmq_users": [{"name": "doky", "password": BROKER_PASSWORD, "tags": ["doky_tag"],
                          "permissions": [{"vhost": "doky_host", "configure": "^$", "write": ".*", "read": ".*"}]}]},
     ["rabbitmq_users entry 'doky' differs from the app's broker account in permissions on doky_host"]),
    ("own entry for the app's user with other tags", "rabbitmq",
     {"rabbitmq_users": [{"name": "doky", "password": BROKER_PASSWORD, "tags": ["administrator"],
                          "permissions": [{"vhost": "doky_host", "configure": ".*", "write": ".*", "read": ".*"}]}]},
     ["rabbitmq_users entry 'doky' differs from the app's broker account in tags"]),
    ("metrics port equal to the management port", "rabbitmq", {"rabbitmq_prometheus_port": 15672},
     ["rabbitmq_prometheus_port must differ from rabbitmq_management_port, both are 15672"]),
    ("metrics address is a name", "rabbitmq", {"rabbitmq_prometheus_address": "localhost"},
     ["rabbitmq_prometheus_address must be an IPv4 or IPv6 address", "got 'localhost'"]),
    ("management port equal to the AMQP port", "rabbitmq", {"rabbitmq_management_port": 5672},
     ["rabbitmq_management_port must differ from rabbitmq_amqp_port, both are 5672"]),
    ("Erlang cookie a shell would split", "rabbitmq", {"rabbitmq_erlang_cookie": "0123456789abcdef0123 $(id)"},
     ["rabbitmq_erlang_cookie must be 20 to 255 letters and digits", "it is not of that form"]),
    ("short Erlang cookie", "rabbitmq", {"rabbitmq_erlang_cookie": "abc123"},
     ["rabbitmq_erlang_cookie must be 20 to 255 letters and digits", "it is not of that form"]),
    ("node name with a domain", "rabbitmq", {"rabbitmq_node_name": "rabbit@mq1.example.internal"},
     ["rabbitmq_node_name must be NAME@SHORTHOST", "rabbit@mq1.example.internal"]),
    ("broker with neither plain AMQP nor TLS", "rabbitmq", {"rabbitmq_amqp_plain": False},
     ["rabbitmq_amqp_plain is false and rabbitmq_tls is false: the broker would serve no AMQP at all"]),
    ("AMQPS port equal to the management port", "rabbitmq", {"rabbitmq_tls": True, "rabbitmq_amqps_port": 15672},
     ["rabbitmq_management_port must differ from rabbitmq_amqps_port, both are 15672"]),
    ("distribution port on epmd's", "rabbitmq", {"rabbitmq_dist_port": 4369},
     ["rabbitmq_dist_port must be a port from 1024 to 65535 other than 4369 (epmd)", "got 4369"]),
    ("zero startup timeout", "rabbitmq", {"rabbitmq_startup_timeout": 0},
     ["rabbitmq_startup_timeout must be a positive number of seconds, got 0"]),
    ("zero quorum wait", "rabbitmq", {"rabbitmq_quorum_wait_timeout": 0},
     ["rabbitmq_quorum_wait_timeout must be a positive number of seconds, got 0"]),
    ("zero consumer timeout", "rabbitmq", {"rabbitmq_consumer_timeout": 0},
     ["rabbitmq_consumer_timeout must be a positive number of milliseconds", "got 0"]),
    ("consumer timeout set beside the role", "rabbitmq", {"rabbitmq_config_extra": {"consumer_timeout": 3600000}},
     ["rabbitmq_config_extra must not set consumer_timeout: set rabbitmq_consumer_timeout"]),
    ("cluster of hosts outside the inventory", "rabbitmq", {"rabbitmq_cluster_hosts": ["mq", "ghost"]},
     ["rabbitmq_cluster_hosts must list inventory hosts, this one (mq) among them", "'ghost'"]),
    ("app name with dashes", "celery_app", {"celery_app_name": "test-celery"},
     ["celery_app_name must be a dotted Python module name", "got 'test-celery'"]),
    ("empty app name", "celery_app", {"celery_app_name": ""},
     ["celery_app_name must be a dotted Python module name"]),
    ("app user root", "celery_app", {"celery_app_user": "root"},
     ["celery_app_user must be a system account name other than root"]),
    ("app group with a capital", "celery_app", {"celery_app_group": "Celery"},
     ["celery_app_group must be a system group name other than root", "got 'Celery'"]),
    ("relative virtualenv", "celery_app", {"celery_app_venv": "venv"},
     ["celery_app_home, celery_app_venv, celery_app_config_dir and celery_app_env_file must be absolute paths"]),
    ("bad environment variable name", "celery_app", {"celery_app_environment": {"1BAD": "x"}},
     ["celery_app_environment keys must be environment variable names"]),
    ("line break in an environment value", "celery_app", {"celery_app_environment": {"SENTRY_DSN": "https://x\nINJECTED=1"}},
     ["celery_app_environment values must be on one line", "['SENTRY_DSN']"]),
    ("a deployment setting in the app's environment", "celery_app",
     {"celery_app_environment": {"CELERY_TASK_ACKS_LATE": "false", "SENTRY_DSN": "x"}},
     ["celery_app_environment must not set CELERY_TASK_ACKS_LATE", "from celery_app_acks_late; set that instead"]),
    ("queue name RabbitMQ keeps", "celery_app", {"celery_app_default_queue": "amq.tasks"},
     ["celery_app_default_queue must be a queue name", "got 'amq.tasks'"]),
    ("negative prefetch", "celery_app", {"celery_app_prefetch_multiplier": -1},
     ["celery_app_prefetch_multiplier must be 0 (no limit) or more", "got -1"]),
    ("memory bound in words", "celery_worker", {"celery_worker_memory_max": "2 gigabytes"},
     ["celery_worker_memory_max must be a size systemd takes", "got '2 gigabytes'"]),
    ("no hard time limit", "celery_app", {"celery_app_task_time_limit": 0},
     ["celery_app_task_time_limit must be a positive number of seconds", "got 0"]),
    ("soft time limit past the hard one", "celery_app", {"celery_app_task_time_limit": 60, "celery_app_task_soft_time_limit": 60},
     ["celery_app_task_soft_time_limit must be 0 (none) or a number of seconds below celery_app_task_time_limit (60)", "got 60"]),
    ("negative memory bound", "celery_app", {"celery_app_max_memory_per_child": -1},
     ["celery_app_max_memory_per_child must be 0 (no bound) or a number of KiB, got -1"]),
    ("no delivery limit", "celery_app", {"celery_app_delivery_limit": 0},
     ["celery_app_delivery_limit must be a positive number of deliveries", "got 0"]),
    ("dead letters into the task queue", "celery_app", {"celery_app_dead_letter_queue": "celery"},
     ["celery_app_dead_letter_queue must be a queue name", "not the default queue ('celery'), got 'celery'"]),
    ("two app sources", "celery_app", {"celery_app_pip_requirement": "myapp==1.0",
                                        "celery_app_git_url": "https://example.invalid/myapp.git"},
     ["Set at most one of celery_app_src_path", "set: celery_app_pip_requirement, celery_app_git_url"]),
    ("source path without a project", "celery_app", {"celery_app_src_path": "/nonexistent/app"},
     ["celery_app_src_path must be a directory on the controller that pip can install",
      "holding pyproject.toml or setup.py", "(not a directory there)"]),
    ("source directory without a project", "celery_app", {"celery_app_src_path": str(ROOT / "app" / "src")},
     ["celery_app_src_path must be a directory on the controller that pip can install", "/app/src'"]),
    ("wheel that is not there", "celery_app", {"celery_app_wheel": "/nonexistent/myapp-1.0-py3-none-any.whl"},
     ["celery_app_wheel must be a .whl file on the controller"]),
    ("broker port out of range", "celery_app", {"celery_app_broker_port": 0},
     ["celery_app_broker_port must be a port number from 1 to 65535, got 0"]),
    ("empty broker user", "celery_app", {"celery_app_broker_user": ""},
     ["celery_app_broker_user must name the app's broker user"]),
    ("missing broker password", "celery_app", {"celery_app_broker_password": ""},
     ["celery_app_broker_password is not set", "ansible-vault"]),
    ("own amqps URL without the app's TLS settings", "celery_app",
     {"celery_app_broker_url": "amqps://doky:" + quote(BROKER_PASSWORD, safe="") + "@mq:5671/doky_host"},
     ["celery_app_broker_url uses amqps://, so set celery_app_broker_tls: true"]),
    ("TLS with a plain URL", "celery_app",
     {"celery_app_broker_tls": True, "celery_app_broker_ca_file": "/ca.pem",
      "celery_app_broker_url": "amqp://doky:" + quote(BROKER_PASSWORD, safe="") + "@mq:5672/doky_host"},
     ["celery_app_broker_tls is on, but celery_app_broker_url uses plain amqp://"]),
    ("broker URL with a wrong scheme", "celery_app", {"celery_app_broker_url": "http://broker:5672/"},
     ["celery_app_broker_url must start with amqp://"]),
    ("no release kept", "celery_app", {"celery_app_keep_releases": 0},
     ["celery_app_keep_releases must be 1 or more releases to keep, got 0"]),
    ("result backend without a scheme", "celery_app", {"celery_app_result_backend": "redis-host:6379/0"},
     ["celery_app_result_backend must be a URL with a scheme", "got 'redis-host:6379/0'"]),
    ("result backend with a password and no scheme", "celery_app",
     {"celery_app_result_backend": ":" + quote(BROKER_PASSWORD, safe="") + "@redis-host:6379/0"},
     ["celery_app_result_backend must be a URL with a scheme", "got '***@redis-host:6379/0'"]),
    ("empty permission pattern", "celery_app", {"celery_app_broker_permissions": {"configure": "", "write": ".*", "read": ".*"}},
     ["celery_app_broker_permissions configure, write and read must be regular expressions"]),
    ("broker host not in the inventory", "celery_app", {"celery_app_broker_hosts": ["mq", "ghost"]},
     ["celery_app_broker_hosts must name inventory hosts, got unknown ['ghost']"]),
    ("zero concurrency", "celery_worker", {"celery_worker_concurrency": 0},
     ["celery_worker_concurrency must be a positive number", "got 0"]),
    ("negative concurrency", "celery_worker", {"celery_worker_concurrency": -2},
     ["celery_worker_concurrency must be a positive number", "got -2"]),
    ("two worker instances of one name", "celery_worker",
     {"celery_worker_instances": [{"name": "reports", "queues": ["a"]}, {"name": "reports", "queues": ["b"]}]},
     ["celery_worker_instances: each name must be unique", "got ['reports', 'reports']"]),
    ("worker instance named like the default worker", "celery_worker",
     {"celery_worker_instances": [{"name": "celery", "queues": ["a"]}]},
     ["differ from the name of celery_worker_node_name ('celery'"]),
    ("worker instance name with a space", "celery_worker",
     {"celery_worker_instances": [{"name": "my reports", "queues": ["a"]}]},
     ["celery_worker_instances: each name must be letters, digits", "got ['my reports']"]),
    ("worker instance with an empty queue list", "celery_worker",
     {"celery_worker_instances": [{"name": "reports", "queues": []}]},
     ["celery_worker_instances: each instance needs queues", "got ['none']"]),
    ("worker instance with zero concurrency", "celery_worker",
     {"celery_worker_instances": [{"name": "reports", "queues": ["a"], "concurrency": 0}]},
     ["celery_worker_instances: concurrency must be a positive number", "got [0]"]),
    ("node name without @", "celery_worker", {"celery_worker_node_name": "worker"},
     ["celery_worker_node_name must look like NAME@HOST"]),
    ("zero stop timeout", "celery_worker", {"celery_worker_stop_timeout": 0},
     ["celery_worker_stop_timeout must be a positive number of seconds"]),
    ("negative restart delay", "celery_worker", {"celery_worker_restart_sec": -1},
     ["celery_worker_restart_sec must be 0 or more seconds, got -1"]),
    ("queue name with a space", "celery_worker", {"celery_worker_queues": ["high priority"]},
     ["celery_worker_queues must be queue names without spaces"]),
    ("queue names in one string", "celery_worker", {"celery_worker_queues": ["a,b"]},
     ["celery_worker_queues must be queue names without spaces or commas", "got ['a,b']"]),
    ("worker unit name with a slash", "celery_worker", {"celery_worker_service_name": "celery/worker"},
     ["celery_worker_service_name must be a unit name", "got 'celery/worker'"]),
    ("beat on a host without the app", "celery_beat", {"celery_beat_host": "elsewhere.example"},
     ["celery_beat_host must be one of the app's hosts", "got 'elsewhere.example'"]),
    ("beat arguments the role sets", "celery_beat", {"celery_beat_extra_args": ["--schedule=/tmp/x"]},
     ["celery_beat_extra_args must not set --schedule"]),
    ("zero beat stop timeout", "celery_beat", {"celery_beat_stop_timeout": 0},
     ["celery_beat_stop_timeout must be a positive number of seconds"]),
    ("negative Flower restart delay", "flower", {"flower_restart_sec": -5},
     ["flower_restart_sec must be 0 or more seconds, got -5"]),

    ("Flower unit name with a space", "flower", {"flower_service_name": "my flower"},
     ["flower_service_name must be a unit name", "got 'my flower'"]),
    ("empty flower credentials", "flower", {"flower_basic_auth": []},
     ["flower_basic_auth must list at least one user"]),
    ("flower user name with a colon", "flower", {"flower_basic_auth": [{"username": "ad:min", "password": FLOWER_PASSWORD}]},
     ["flower_basic_auth[].username must be a name without ':'"]),
    ("flower password with a comma", "flower", {"flower_basic_auth": [{"username": "admin", "password": COMMA_PASSWORD}]},
     ["flower_basic_auth[].password must be non-empty, on one line and without ','"]),
    ("Flower as the app's account", "flower", {"flower_user": "celery"},
     ["flower_user must not be the app's account 'celery'"]),
    ("Flower in the app's group", "flower", {"flower_group": "celery"},
     ["flower_group must not be the app's group 'celery'"]),
    ("Flower account name with a space", "flower", {"flower_user": "flower monitor"},
     ["flower_user and flower_group must be system account names", "got 'flower monitor:flower'"]),
    ("Flower as root", "flower", {"flower_user": "root"},
     ["flower_user and flower_group must be system account names other than root", "got 'root:flower'"]),
    ("flower port out of range", "flower", {"flower_port": 70000},
     ["flower_port must be a port number from 1 to 65535", "got 70000"]),
    ("flower address is a name", "flower", {"flower_address": "localhost"},
     ["flower_address must be an IPv4 or IPv6 address", "got 'localhost'"]),
    # The address Flower binds must be one: the old pattern let this through.
    ("flower address that is no IPv6 address", "flower", {"flower_address": ":::::"},
     ["flower_address must be an IPv4 or IPv6 address", "got ':::::'"]),
    ("flower address out of range", "flower", {"flower_address": "256.1.1.1"},
     ["flower_address must be an IPv4 or IPv6 address", "got '256.1.1.1'"]),
    ("monitoring password Flower cannot put in its URL", "flower", {"flower_broker_api_password": URL_BREAKING_PASSWORD},
     ["flower_broker_api_password must not contain / ? # % [ ] or white space"]),
    ("broker API URL with credentials", "flower", {"flower_broker_api_url": "http://monitor:" + MONITOR_PASSWORD + "@127.0.0.1:15672/api/"},
     ["flower_broker_api_url must be an http(s) URL without credentials", "got 'http://***@127.0.0.1:15672/api/'"]),
    ("broker API URL with a password holding / and @", "flower",
     {"flower_broker_api_url": "https://monitor:" + URL_BREAKING_PASSWORD + "@a@b/c@127.0.0.1:15672/api/"},
     ["flower_broker_api_url must be an http(s) URL without credentials", "got 'https://***@127.0.0.1:15672/api/'"]),
    ("broker API without its user", "flower", {"flower_broker_api_user": ""},
     ["flower_broker_api_user and flower_broker_api_password must be set when flower_broker_api_url is"]),
    ("URL prefix with a space", "flower", {"flower_url_prefix": "my flower"},
     ["flower_url_prefix may hold letters, digits and . _ ~ / - only"]),
    ("certificate name with a space", "pki", {"pki_host_names": ["mq 1"]},
     ["pki_host_names and pki_extra_names must be host names or IP addresses", "['mq 1']"]),
    ("own certificates that are not there", "pki", {"pki_generate": False, "pki_ca_file": "/nonexistent/ca.pem"},
     ["pki_ca_file names /nonexistent/ca.pem, which is not a file on the controller"]),
    ("host certificate longer than the CA", "pki", {"pki_ca_days": 30, "pki_host_days": 60},
     ["pki_ca_days and pki_host_days must be positive numbers of days", "got 30 and 60"]),
    ("relative pki directory", "pki", {"pki_dir": "pki"},
     ["pki_dir must be an absolute path on the controller, got 'pki'"]),
]


def test_there_are_at_least_eighty_distinct_cases():
    assert len({case[0] for case in CASES}) == len(CASES) >= 80


@pytest.mark.parametrize(("role", "changes", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_role_refuses_bad_input(role, changes, expected):
    found = problems(role, **changes)
    assert any(all(phrase in message for phrase in expected) for message in found), found


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "::1", "10.1.2.3", "fe80::1"])
def test_flower_binds_any_address(address):
    assert problems("flower", flower_address=address) == []


def test_an_ipv6_address_pattern_is_no_reason_to_refuse_a_wildcard_certificate_name():
    assert problems("pki", pki_extra_names=["*.example.internal", "10.0.0.5", "fe80::1"]) == []


def test_the_role_on_its_own_with_tls_and_no_ca():
    # The playbooks always pass the pki role's CA; a playbook of one's own may not.
    view = HostView({**base_vars(), "celery_app_broker_tls": True})
    variables = {**view.evaluated("celery_app_"), "celery_app_broker_ca_file": ""}
    found = inputs.celery_app_problems(variables, OWNED_ENV, str(ROOT / "app"), ["mq"])
    assert found == ["celery_app_broker_tls is on, so celery_app_broker_ca_file must name the CA certificate (PEM, "
                     "on the controller) the brokers' certificates are signed by"]


def test_a_missing_cookie_is_named_as_missing():
    variables = base_vars()
    del variables["rabbitmq_erlang_cookie"]
    view = HostView(variables)
    nodes = [{"host": "mq", "name": "rabbit@mq", "address": "127.0.0.1"}]
    found = inputs.rabbitmq_problems(view.evaluated("rabbitmq_"), nodes, [""], ["mq"], "mq")
    assert [m for m in found if "cookie" in m] == [
        "rabbitmq_erlang_cookie must be 20 to 255 letters and digits, the same on every broker, from ansible-vault "
        "(e.g. openssl rand -hex 32); it is not set"]


def cluster_problems(nodes, cookies):
    view = HostView({**base_vars(), "rabbitmq_cluster_hosts": [n["host"] for n in nodes]},
                    groups={"rabbitmq": [n["host"] for n in nodes]}, host=nodes[0]["host"])
    view.set_facts(ROOT / "roles" / "celery_app" / "tasks" / "broker_account.yml")
    return inputs.rabbitmq_problems(view.evaluated("rabbitmq_"), nodes, cookies, [n["host"] for n in nodes],
                                    nodes[0]["host"])


def test_a_cluster_whose_nodes_agree():
    nodes = [{"host": f"mq{i}", "name": f"rabbit@mq{i}", "address": f"10.0.0.{i}"} for i in (1, 2, 3)]
    assert cluster_problems(nodes, ["a" * 32] * 3) == []


@pytest.mark.parametrize(("nodes", "cookies", "expected"), [
    ([("rabbit@mq1", "10.0.0.1"), ("rabbit@mq1", "10.0.0.2")], None,
     "rabbitmq_node_name must differ on every broker of the cluster"),
    ([("rabbit@mq1", "10.0.0.1"), ("rabbit@mq2", "10.0.0.1")], None,
     "rabbitmq_cluster_address must differ on every broker"),
    ([("rabbit@mq1", "127.0.0.1"), ("rabbit@mq2", "10.0.0.2")], None,
     "rabbitmq_cluster_address must be an address the other brokers reach (not loopback nor 0.0.0.0)"),
    ([("rabbit@mq1", "fe80::1"), ("rabbit@mq2", "10.0.0.2")], None,
     "rabbitmq_cluster_address must be an IPv4 address"),
    ([("rabbit@mq1", "10.0.0.1"), ("rabbit@mq2", "10.0.0.2")], ["a" * 32, "b" * 32],
     "rabbitmq_erlang_cookie must be the same on every host of rabbitmq_cluster_hosts"),
], ids=["same node name", "same address", "loopback", "IPv6", "cookies differ"])
def test_a_cluster_whose_nodes_disagree(nodes, cookies, expected):
    nodes = [{"host": f"mq{i}", "name": name, "address": address} for i, (name, address) in enumerate(nodes, 1)]
    found = cluster_problems(nodes, cookies or ["a" * 32] * len(nodes))
    assert any(expected in m for m in found), found
    assert not any("a" * 32 in m or "b" * 32 in m for m in found)


def test_an_inventory_without_brokers_leaves_the_app_none():
    found = problems("celery_app", groups={"celery_workers": ["mq"], "flower": ["mq"]})
    assert any("celery_app_broker_hosts is empty: put a host in the inventory's 'rabbitmq' group" in m for m in found)


def test_an_own_broker_url_needs_no_broker_account_or_hosts():
    url = "amqp://doky:" + quote(BROKER_PASSWORD, safe="") + "@broker.example:5672/doky_host"
    assert problems("celery_app", groups={"celery_workers": ["mq"]}, celery_app_broker_url=url,
                    celery_app_broker_user="", celery_app_broker_password="") == []


@pytest.mark.parametrize("source", ["setup_py", "wheel"])
def test_a_project_pip_can_build_or_a_wheel_passes(tmp_path, source):
    if source == "setup_py":
        (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
        assert problems("celery_app", celery_app_src_path=str(tmp_path)) == []
    else:
        wheel = tmp_path / "myapp-1.0-py3-none-any.whl"
        wheel.write_bytes(b"PK")
        assert problems("celery_app", celery_app_wheel=str(wheel)) == []


def test_the_default_beat_host_is_the_first_of_its_group():
    view = HostView(base_vars(), host="w1", groups={"celery_workers": ["w1", "w2"], "celery_beat": ["w2"]})
    assert view["celery_beat_host"] == "w2"
    assert inputs.celery_beat_problems(view.evaluated("celery_beat_")) == []


@pytest.mark.parametrize("role, units, message", [
    ("celery_beat", ["rabbitmq-server"],
     "celery_beat_after_units must be a list of unit names with their type (rabbitmq-server.service), "
     "got ['rabbitmq-server']"),
    ("flower", ["a.service b.service"], "flower_after_units must be a list of unit names with their type"),
    ("celery_worker", "rabbitmq-server.service", "celery_worker_after_units must be a list of unit names"),
    ("celery_worker", ["rabbitmq-server.service", "postgresql.service"], None),
])
def test_the_units_to_start_after_are_unit_names(role, units, message):
    # The playbook passes them (vars/wiring.yml wins over the inventory), as a role's
    # caller of its own would.
    variables = HostView(base_vars()).evaluated(ROLES[role])
    assert variables[f"{ROLES[role]}after_units"] == ["rabbitmq-server.service"]
    found = inputs.FilterModule().filters()[f"{role}_problems"]({**variables, f"{ROLES[role]}after_units": units})
    assert (found == []) if message is None else any(m.startswith(message) for m in found), found


def test_the_dead_letter_policy_covers_every_app_queue_and_none_of_celerys_own():
    view = HostView({**base_vars(), "celery_app_default_queue": "orders"})
    view.set_facts(ROOT / "roles" / "celery_app" / "tasks" / "broker_account.yml")
    dead = view["celery_app_broker_account"]["dead_letter"]
    assert dead["queue"] == "orders.dead-letter" and dead["delivery_limit"] == 10
    # RabbitMQ's policy patterns are PCRE; these constructs read the same in Python's re.
    pattern = re.compile(dead["pattern"])
    covered = ["orders", "celery", "reports", "shipyard.invoices", "orders.dead-letterx", "bulk"]
    celerys_own = ["celeryev.5f1c", "celery@worker1.celery.pidbox", "7c1e.reply.celery.pidbox", "celery_delayed_27",
                   "amq.gen-Lc3k", "orders.dead-letter"]
    assert [q for q in covered if not pattern.search(q)] == []
    assert [q for q in celerys_own if pattern.search(q)] == []


def test_a_workers_stop_waits_a_minute_past_the_tasks_time_limit_unless_the_inventory_says_otherwise():
    assert int(HostView(base_vars())["celery_worker_stop_timeout"]) == 1740 + 60
    assert int(HostView({**base_vars(), "celery_app_task_time_limit": 100})["celery_worker_stop_timeout"]) == 160
    assert int(HostView({**base_vars(), "celery_worker_stop_timeout": 900})["celery_worker_stop_timeout"]) == 900
