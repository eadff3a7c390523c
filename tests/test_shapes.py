"""The lists the roles build from their inputs and the inventory (plugins/filter/shapes.py),
as the roles' vars/ call them."""

import secrets
from urllib.parse import unquote, urlsplit

from support.plugins import load_filter

shapes = load_filter("shapes").FilterModule().filters()
# Made up for each run: the secret scan finds no written credential.
WORD, OTHER = secrets.token_hex(6), secrets.token_hex(6)


def test_an_app_account_becomes_a_user_with_rights_on_its_vhost():
    accounts = [{"user": "app", "password": WORD, "vhost": "/jobs", "tags": ["monitoring"], "write": "^jobs$"},
                {"user": "other", "password": OTHER, "vhost": "x", "tags": None}]
    assert shapes["rabbitmq_app_users"](accounts) == [
        {"name": "app", "password": WORD, "tags": ["monitoring"],
         "permissions": [{"vhost": "/jobs", "configure": ".*", "write": "^jobs$", "read": ".*"}]},
        {"name": "other", "password": OTHER, "tags": [],
         "permissions": [{"vhost": "x", "configure": ".*", "write": ".*", "read": ".*"}]},
    ]
    assert shapes["rabbitmq_app_users"]([]) == []


def facts(hostname: str, address: str) -> dict:
    return {"ansible_facts": {"hostname": hostname, "default_ipv4": {"address": address}}}


def test_each_cluster_node_is_named_and_addressed_by_its_own_variables_or_facts():
    hostvars = {"mq1": facts("mq1", "10.0.0.1"),
                "mq2": {**facts("mq2", "10.0.0.2"), "rabbitmq_node_name": "rabbit@broker-two"},
                "mq3": {**facts("mq3", "10.0.0.3"), "rabbitmq_cluster_address": "192.168.9.3"},
                "mq4": {}}
    nodes = shapes["rabbitmq_cluster_nodes"](["mq1", "mq2", "mq3", "mq4", "gone"], ["mq1", "mq2", "mq3", "mq4"], hostvars)
    assert nodes == [
        {"host": "mq1", "name": "rabbit@mq1", "address": "10.0.0.1"},
        {"host": "mq2", "name": "rabbit@broker-two", "address": "10.0.0.2"},
        {"host": "mq3", "name": "rabbit@mq3", "address": "192.168.9.3"},
        # No facts gathered (outside --limit, say): no name to guess, which the checks report.
        {"host": "mq4", "name": "rabbit@", "address": ""},
    ]


def test_a_single_node_listens_on_loopback():
    assert shapes["rabbitmq_cluster_nodes"](["mq1"], ["mq1"], {"mq1": facts("mq1", "10.0.0.1")}) == [
        {"host": "mq1", "name": "rabbit@mq1", "address": "127.0.0.1"}]


def test_one_url_per_broker_this_host_over_loopback_the_vhost_quoted():
    hostvars = {"mq1": {"ansible_host": "10.0.0.1"}, "mq2": {"celery_app_broker_address": "mq2.internal"},
                "mq3": {}, "app": {}}
    userinfo = "u:" + WORD + "%2F"  # quoted by the role before
    url = shapes["celery_app_broker_urls"](["mq1", "mq2", "mq3", "app"], "app", hostvars, False, userinfo, 5672, "/")
    assert url.split(";") == [f"amqp://{userinfo}@10.0.0.1:5672/%2F", f"amqp://{userinfo}@mq2.internal:5672/%2F",
                              f"amqp://{userinfo}@mq3:5672/%2F", f"amqp://{userinfo}@127.0.0.1:5672/%2F"]
    tls = shapes["celery_app_broker_urls"](["mq1"], "app", hostvars, True, userinfo, "5671", "jobs/a b")
    assert tls == f"amqps://{userinfo}@10.0.0.1:5671/jobs%2Fa%20b"
    # Celery (kombu) reads the vhost back as written.
    assert unquote(urlsplit(tls).path[1:]) == "jobs/a b"


def test_the_worker_and_each_instance_answer_as_their_own_node():
    nodes = shapes["celery_worker_nodes"]([{"name": "reports", "queues": ["r"]}], "celery-worker", "celery@%h")
    assert nodes == [
        {"unit": "celery-worker", "node": "celery@%h", "gate_arg": "celery-worker=celery@%h"},
        {"unit": "celery-worker@reports", "node": "reports@%h", "gate_arg": "celery-worker@reports=reports@%h"},
    ]
    assert [n["unit"] for n in shapes["celery_worker_nodes"]([], "w", "w@%h")] == ["w"]


def test_a_brokers_restart_finds_its_workers_by_the_address_their_urls_name():
    # The drain (rabbitmq_drain_names, playbooks/vars/wiring.yml) and the URLs ask one rule.
    hostvars = {"mq1": {"ansible_host": "10.0.0.1"}, "mq2": {"celery_app_broker_address": "mq2.internal",
                                                             "ansible_host": "10.0.0.2"}, "mq3": {}}
    addresses = [shapes["celery_app_broker_address"](host, hostvars) for host in ("mq1", "mq2", "mq3")]
    assert addresses == ["10.0.0.1", "mq2.internal", "mq3"]
    url = shapes["celery_app_broker_urls"](["mq1", "mq2", "mq3"], "app", hostvars, False, "u:p", 5672, "/")
    assert [urlsplit(u).hostname for u in url.split(";")] == addresses
