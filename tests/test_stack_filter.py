"""The rules between roles (plugins/filter/stack.py), over inventories as Ansible's
hostvars holds them: each host's inventory variables only, the roles' defaults left out.

Each case is an inventory an operator could write; the filter must name the variable to
change, say which hosts have the problem, and never print a secret.
"""

import copy
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from support.plugins import load_filter
from support.inventory import BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, base_vars, with_own_url

ROOT = Path(__file__).resolve().parent.parent
stack = load_filter("stack")

# A password the broker does not hold, as random as the right one.
OTHER_PASSWORD = BROKER_PASSWORD[::-1]
SECRETS = (OTHER_PASSWORD, BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, quote(BROKER_PASSWORD, safe=""), quote(BROKER_PASSWORD))


def inventory(groups: dict, common: dict | None = None, **host_vars) -> tuple[dict, dict]:
    """hostvars and groups for groups of host names: every host gets `common` (as
    group_vars/all would give it) and its own variables from host_vars."""
    hosts = {h for members in groups.values() for h in members}
    hostvars = {h: {**copy.deepcopy(common or {}), **host_vars.get(h.replace("-", "_"), {})} for h in hosts}
    return hostvars, {"all": sorted(hosts), **groups}


def one_host(**changes) -> tuple[dict, dict]:
    """The valid one-host inventory of every test, with changes."""
    return inventory({"rabbitmq": ["mq"], "celery_workers": ["mq"], "flower": ["mq"]}, {**base_vars(), **changes})


def problems(hostvars, groups) -> list[str]:
    found = stack.stack_problems(hostvars, groups)
    for message in found:
        for secret in SECRETS:
            assert secret not in message
    return found


def own_url(url: str) -> dict:
    return with_own_url(base_vars(), url)


def url(scheme="amqp", password=BROKER_PASSWORD, host="127.0.0.1", port=5672, vhost="doky_host", user="doky"):
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}:{port}/{vhost}"


def test_the_valid_inventory_has_no_problems():
    assert problems(*one_host()) == []


def test_an_own_url_that_matches_the_broker_has_no_problems():
    hostvars, groups = one_host(**own_url(url()))
    assert problems(hostvars, groups) == []


def test_several_urls_each_checked_against_the_broker_it_names():
    variables = own_url(url(host="mq1") + ";" + url(host="mq2.example.internal", port=5673))
    hostvars, groups = inventory({"rabbitmq": ["mq1", "mq2"], "celery_workers": ["worker"]}, variables,
                                 mq2={"ansible_host": "mq2.example.internal"})
    assert problems(hostvars, groups) == [
        "celery_app_broker_url uses port 5673, but broker mq2 listens on 5672 (rabbitmq_amqp_port) (app hosts: worker)"]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"celery_app_broker_port": 5673},
     "celery_app_broker_port uses port 5673, but broker mq listens on 5672 (rabbitmq_amqp_port)"),
    ({"rabbitmq_amqp_port": 5673},
     "celery_app_broker_port uses port 5672, but broker mq listens on 5673 (rabbitmq_amqp_port)"),
    ({"celery_app_broker_port": "5673"},
     "celery_app_broker_port uses port 5673, but broker mq listens on 5672 (rabbitmq_amqp_port)"),
    ({"celery_app_broker_tls": True},
     "celery_app_broker_tls is true, but broker mq serves no AMQPS (rabbitmq_tls is off)"),
    ({"rabbitmq_tls": True, "rabbitmq_amqp_plain": False},
     "celery_app_broker_tls is false, but broker mq serves AMQPS only (rabbitmq_amqp_plain is off): "
     "set celery_app_broker_tls: true"),
    # With TLS on both sides, the app's default port is the AMQPS one.
    ({"rabbitmq_tls": True, "rabbitmq_amqps_port": 5674, "celery_app_broker_tls": True},
     "celery_app_broker_port uses port 5671, but broker mq listens on 5674 (rabbitmq_amqps_port)"),
], ids=["app's port", "broker's port", "port as a string", "TLS the broker lacks", "plain app, TLS-only broker",
        "TLS ports"])
def test_the_app_and_the_broker_disagree_on_the_listener(changes, expected):
    assert problems(*one_host(**changes)) == [expected + " (app hosts: mq)"]


@pytest.mark.parametrize(("own", "expected"), [
    (url(password=OTHER_PASSWORD), "celery_app_broker_url differs from the password broker mq declares for 'doky'"),
    (url(vhost="elsewhere"), "celery_app_broker_url names vhost 'elsewhere', where broker mq gives 'doky' no permissions"),
    (url(user="ghost"), "celery_app_broker_url names broker user 'ghost', which broker mq does not declare"),
    (url(scheme="amqps", port=5671), "celery_app_broker_url uses amqps://, but broker mq serves no AMQPS"),
], ids=["password", "vhost", "user", "scheme"])
def test_an_own_url_that_the_broker_does_not_serve(own, expected):
    (message,) = problems(*one_host(**own_url(own)))
    assert message.startswith(expected), message


def test_an_own_url_with_a_percent_encoded_vhost_and_password():
    variables = own_url(url(vhost=quote("/", safe="")))
    variables["rabbitmq_users"][-1]["permissions"][0]["vhost"] = "/"
    assert problems(*one_host(**variables)) == []


def test_an_own_url_that_points_elsewhere_is_not_compared():
    assert problems(*one_host(**own_url(url(host="broker.elsewhere.example", password=OTHER_PASSWORD)))) == []


def test_the_app_names_the_password_variable_not_the_password():
    # A host_vars password on one app host, the brokers keeping group_vars' one.
    hostvars, groups = inventory({"rabbitmq": ["mq"], "celery_workers": ["worker"]}, base_vars(),
                                 worker={"celery_app_broker_password": OTHER_PASSWORD})
    assert problems(hostvars, groups) == [
        "celery_app_broker_password differs from the password broker mq declares for 'doky' (app hosts: worker)"]


@pytest.mark.parametrize(("port", "listener"), [(5672, "rabbitmq_amqp_port"), (15672, "rabbitmq_management_port"),
                                                (15692, "rabbitmq_prometheus_port")])
def test_flower_on_one_of_the_brokers_ports(port, listener):
    assert problems(*one_host(flower_port=port)) == [
        f"flower_port {port} is taken on mq by the broker ({listener}): choose another flower_port"]


def test_flower_on_a_port_of_a_plugin_the_broker_does_not_run():
    assert problems(*one_host(flower_port=15692, rabbitmq_plugins=["rabbitmq_management"])) == []


def test_flower_and_the_broker_on_different_hosts_may_share_a_port_number():
    hostvars, groups = inventory({"rabbitmq": ["mq"], "celery_workers": ["worker"], "flower": ["monitor"]},
                                 {**base_vars(), "flower_port": 15672})
    assert problems(hostvars, groups) == []


# --limit: hostvars holds every host of the inventory, and the filter reads them all; the
# hosts of the run are not an input at all. These are the two runs an operator makes.
def cluster(**host_vars):
    return inventory({"rabbitmq": ["mq1", "mq2", "mq3"], "celery_workers": ["worker1", "worker2"],
                      "flower": ["monitor"]}, base_vars(), **host_vars)


def test_a_worker_given_a_port_no_broker_serves():
    # site.yml --limit worker1 with that port in its host_vars: the brokers are outside the run.
    assert problems(*cluster(worker1={"celery_app_broker_port": 5673})) == [
        f"celery_app_broker_port uses port 5673, but broker {mq} listens on 5672 (rabbitmq_amqp_port) (app hosts: worker1)"
        for mq in ("mq1", "mq2", "mq3")]


def test_a_broker_moved_to_a_port_the_apps_do_not_use():
    # site.yml --limit mq2 after moving its listener: every app host is outside the run.
    assert problems(*cluster(mq2={"rabbitmq_amqp_port": 5673})) == [
        "celery_app_broker_port uses port 5672, but broker mq2 listens on 5673 (rabbitmq_amqp_port)"
        " (app hosts: worker1, worker2, monitor)"]


def test_an_app_that_names_some_brokers_only_is_compared_with_those():
    assert problems(*cluster(mq3={"rabbitmq_amqp_port": 5673},
                             worker1={"celery_app_broker_hosts": ["mq1", "mq2"]})) == [
        "celery_app_broker_port uses port 5672, but broker mq3 listens on 5673 (rabbitmq_amqp_port)"
        " (app hosts: worker2, monitor)"]


def test_a_broker_whose_own_entry_for_the_app_has_another_password():
    # The broker declares its rabbitmq_users entry, which wins over the app's account there.
    variables = base_vars()
    own = {"name": "doky", "password": OTHER_PASSWORD, "permissions": [{"vhost": "doky_host"}]}
    (message,) = problems(*cluster(mq1={"rabbitmq_users": variables["rabbitmq_users"] + [own]}))
    assert message == "celery_app_broker_password differs from the password broker mq1 declares for 'doky' " \
                      "(app hosts: worker1, worker2, monitor)"


def test_an_inventory_without_app_hosts_or_brokers_has_nothing_to_compare():
    assert problems(*inventory({"rabbitmq": ["mq"]}, base_vars())) == []
    assert problems(*inventory({"celery_workers": ["worker"]}, base_vars())) == []


def test_values_that_are_not_port_numbers_are_left_to_the_roles_own_checks():
    assert problems(*one_host(rabbitmq_amqp_port="amqp", flower_port="http")) == []


# The two defaults the filter cannot read as plain values (they are templates, which only
# Ansible evaluates); the filter spells out what they mean, and this says when the role's
# text changes.
def test_the_templated_defaults_the_filter_spells_out_are_the_roles():
    defaults = yaml.safe_load((ROOT / "roles" / "celery_app" / "defaults" / "main.yml").read_text())
    assert defaults["celery_app_broker_port"] == "{{ 5671 if celery_app_broker_tls else 5672 }}"
    assert defaults["celery_app_broker_hosts"] == "{{ groups['rabbitmq'] | default([]) }}"
    assert "celery_app_broker_port" not in stack.role_defaults("celery_app")
    assert stack.role_defaults("rabbitmq")["rabbitmq_amqp_port"] == 5672


# With late acks a task is unacknowledged while it runs or waits behind its process's
# current task; the broker takes back a delivery older than its consumer_timeout and
# another worker runs it again, in a loop for a task longer than that.
def test_the_default_time_limit_fits_the_default_consumer_timeout():
    defaults = stack.role_defaults("celery_app")
    assert defaults["celery_app_task_time_limit"] * defaults["celery_app_prefetch_multiplier"] + stack.ACK_MARGIN \
        <= stack.role_defaults("rabbitmq")["rabbitmq_consumer_timeout"] / 1000
    assert problems(*cluster()) == []


def test_a_hard_time_limit_at_the_brokers_consumer_timeout_is_refused():
    assert problems(*cluster(worker2={"celery_app_task_time_limit": 1800})) == [
        f"celery_app_task_time_limit (1800 s) times celery_app_prefetch_multiplier (1), plus 15 s, must be below broker "
        f"{mq}'s rabbitmq_consumer_timeout (1800000 ms): a task may otherwise be taken back while it runs or waits, and "
        "run again; lower the limit or raise rabbitmq_consumer_timeout to at least 1815000 (app hosts: worker2)"
        for mq in ("mq1", "mq2", "mq3")]


def test_a_prefetched_task_waits_for_the_one_before_it():
    # 600 s alone fits 30 minutes; four reserved per process may wait 3 x 600 s, then run.
    (message, *_) = problems(*cluster(worker1={"celery_app_task_time_limit": 600,
                                                "celery_app_prefetch_multiplier": 4}))
    assert message.startswith("celery_app_task_time_limit (600 s) times celery_app_prefetch_multiplier (4)")
    assert problems(*cluster(worker1={"celery_app_task_time_limit": 420, "celery_app_prefetch_multiplier": 4})) == []


def test_a_lowered_consumer_timeout_on_one_broker_is_named_with_that_broker():
    assert problems(*cluster(mq3={"rabbitmq_consumer_timeout": 60000},
                             worker1={"celery_app_task_time_limit": 46},
                             worker2={"celery_app_task_time_limit": 46})) == [
        "celery_app_task_time_limit (46 s) times celery_app_prefetch_multiplier (1), plus 15 s, must be below broker "
        "mq3's rabbitmq_consumer_timeout (60000 ms): a task may otherwise be taken back while it runs or waits, and "
        "run again; lower the limit or raise rabbitmq_consumer_timeout to at least 61000 (app hosts: worker1, worker2)"]


def test_a_45_s_limit_fits_a_one_minute_consumer_timeout():
    # The broker's shortest useful timeout (it looks once a minute) still leaves room for
    # tasks of most of that minute.
    assert problems(*cluster(mq1={"rabbitmq_consumer_timeout": 60000}, mq2={"rabbitmq_consumer_timeout": 60000},
                             mq3={"rabbitmq_consumer_timeout": 60000},
                             worker1={"celery_app_task_time_limit": 45},
                             worker2={"celery_app_task_time_limit": 45})) == []


def test_unlimited_prefetch_cannot_be_bounded():
    (message, *_) = problems(*cluster(worker1={"celery_app_prefetch_multiplier": 0}))
    assert message.startswith("celery_app_prefetch_multiplier 0 (no limit) lets a worker hold a task unacknowledged")
    assert message.endswith("set 1 or more (app hosts: worker1)")
