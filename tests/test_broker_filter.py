"""One read of a broker's definitions (plugins/modules/rabbitmq_definitions_info.py) and what
the rabbitmq role still declares after it (plugins/filter/broker.py)."""

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from support.plugins import load, load_filter

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
broker = load_filter("broker").FilterModule().filters()
info = load("rabbitmq_definitions_info", PLUGINS / "modules" / "rabbitmq_definitions_info.py")
pending, conflicts = broker["rabbitmq_pending"], broker["rabbitmq_queue_conflicts"]
passwords = sys.modules["ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_passwords"]

# Made up for each run: the secret scan finds no written credential.
WORD, OTHER = secrets.token_hex(6), secrets.token_hex(6)


def salted(password: str, algorithm=hashlib.sha256) -> str:
    salt = os.urandom(4)
    return base64.b64encode(salt + algorithm(salt + password.encode()).digest()).decode()


def export(**extra) -> dict:
    """What `rabbitmqctl export_definitions` prints for a broker converged as USERS say."""
    return {
        "vhosts": [{"name": "/"}, {"name": "jobs"}],
        "users": [
            {"name": "app", "password_hash": salted(WORD), "hashing_algorithm": "rabbit_password_hashing_sha256",
             "tags": ["monitoring"], "limits": {}},
            {"name": "watcher", "password_hash": salted(OTHER, hashlib.sha512),
             "hashing_algorithm": "rabbit_password_hashing_sha512", "tags": [], "limits": {}},
        ],
        "permissions": [
            {"user": "app", "vhost": "jobs", "configure": ".*", "write": ".*", "read": ".*"},
            {"user": "watcher", "vhost": "/", "configure": "^$", "write": "^$", "read": "^$"},
        ],
        "topic_permissions": [],
        "policies": [{"vhost": "jobs", "name": "ttl", "pattern": "^t\\.", "apply-to": "queues",
                      "definition": {"message-ttl": 60000}, "priority": 1}],
        "queues": [{"vhost": "jobs", "name": "celery", "durable": True, "type": "quorum",
                    "arguments": {"x-queue-type": "quorum"}},
                   {"vhost": "jobs", "name": "old", "durable": True, "arguments": {}}],
        **extra,
    }


VHOSTS = [{"name": "jobs"}]
USERS = [
    {"name": "app", "tags": ["monitoring"],
     "permissions": [{"vhost": "jobs", "configure": ".*", "write": ".*", "read": ".*"}]},
    {"name": "watcher", "tags": []},
]
PASSWORDS = {"app": WORD, "watcher": OTHER}
POLICIES = [{"name": "ttl", "vhost": "jobs", "pattern": "^t\\.", "apply_to": "queues",
             "definition": {"message-ttl": 60000}, "priority": 1}]


def read(definitions=None, passwords=PASSWORDS) -> dict:
    return {"available": True, **info.summary(definitions or export(), passwords)}


NOTHING = {"vhosts": [], "passwords": [], "users": [], "policies": [], "guest": False}


def test_the_read_holds_no_password_hash_and_checks_each_wanted_password():
    state = read()
    assert "password_hash" not in json.dumps(state)
    assert state["users"]["app"] == {"tags": ["monitoring"], "password_matches": True}
    assert state["users"]["watcher"]["password_matches"] is True
    assert read(passwords={"app": OTHER})["users"]["app"]["password_matches"] is False
    # No wanted password given: never a match, so the role sets it.
    assert read(passwords={})["users"]["app"]["password_matches"] is False


def test_a_hash_the_setter_makes_is_one_the_reader_matches_in_every_algorithm():
    # rabbitmq_user_password writes what rabbitmq_definitions_info then compares.
    for algorithm in passwords.HASHES:
        user = {"password_hash": passwords.salted_hash(algorithm, WORD), "hashing_algorithm": algorithm}
        assert passwords.matches(user, WORD) and not passwords.matches(user, OTHER)
    # A stored value that is not base64 at all.
    assert not passwords.matches({"password_hash": secrets.token_hex(3) + "!", "hashing_algorithm": None}, WORD)
    assert not passwords.matches({"password_hash": salted(WORD), "hashing_algorithm": "rabbit_password_hashing_x"}, WORD)


def test_tags_written_as_a_string_by_older_brokers_read_as_a_list():
    old = export()
    old["users"][0]["tags"] = "monitoring, administrator"
    assert read(old)["users"]["app"]["tags"] == ["administrator", "monitoring"]


def test_a_queue_without_a_type_field_is_read_by_its_argument_or_as_classic():
    assert read()["queues"] == [{"vhost": "jobs", "name": "celery", "type": "quorum"},
                                {"vhost": "jobs", "name": "old", "type": "classic"}]


def test_a_broker_as_declared_needs_nothing():
    assert pending(read(), VHOSTS, USERS, POLICIES) == NOTHING


def test_a_broker_that_could_not_be_read_gets_everything_declared():
    assert pending({"available": False}, VHOSTS, USERS, POLICIES, True) == {
        "vhosts": VHOSTS, "passwords": ["app", "watcher"], "users": ["app", "watcher"],
        "policies": POLICIES, "guest": False}


def test_a_missing_vhost_and_a_vhost_to_remove_are_declared():
    assert pending(read(), [{"name": "new"}, {"name": "jobs", "state": "absent"}], USERS, POLICIES)["vhosts"] == [
        {"name": "new"}, {"name": "jobs", "state": "absent"}]


def test_a_changed_password_is_set_and_a_missing_user_created():
    state = read(passwords={"app": OTHER, "watcher": OTHER})
    got = pending(state, VHOSTS, USERS + [{"name": "new"}], POLICIES)
    assert got["passwords"] == ["app", "new"]
    assert got["users"] == ["new"]


def test_tags_are_compared_as_a_set():
    assert pending(read(), VHOSTS, [{**USERS[0], "tags": ["monitoring", "monitoring"]}, USERS[1]], [])["users"] == []
    assert pending(read(), VHOSTS, [{**USERS[0], "tags": ["administrator"]}, USERS[1]], [])["users"] == ["app"]


def test_permissions_differ_by_a_pattern_a_missing_vhost_or_one_too_many():
    changed = {**USERS[0], "permissions": [{"vhost": "jobs", "configure": ".*", "write": "^x$", "read": ".*"}]}
    assert pending(read(), VHOSTS, [changed], [])["users"] == ["app"]
    # A pattern left out grants nothing, as the role sets it.
    left_out = {**USERS[0], "permissions": [{"vhost": "jobs", "configure": ".*", "read": ".*"}]}
    assert pending(read(), VHOSTS, [left_out], [])["users"] == ["app"]
    extra = export()
    extra["permissions"].append({"user": "app", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"})
    assert pending(read(extra), VHOSTS, USERS, [])["users"] == ["app"]


def test_a_user_with_no_permissions_is_held_to_nothing_on_the_default_vhost():
    # As community.rabbitmq.rabbitmq_user does with no permissions given.
    loose = export()
    loose["permissions"][1]["read"] = ".*"
    assert pending(read(loose), VHOSTS, USERS, [])["users"] == ["watcher"]
    none_at_all = export()
    del none_at_all["permissions"][1]
    assert pending(read(none_at_all), VHOSTS, USERS, [])["users"] == ["watcher"]


def test_topic_permissions_the_role_never_grants_are_taken_away():
    topic = export(topic_permissions=[{"user": "app", "vhost": "jobs", "exchange": "amq.topic", "write": ".*", "read": ".*"}])
    assert pending(read(topic), VHOSTS, USERS, [])["users"] == ["app"]


def test_a_user_to_remove_is_declared_while_it_exists():
    assert pending(read(), VHOSTS, [{"name": "watcher", "state": "absent"}], [])["users"] == ["watcher"]
    assert pending(read(), VHOSTS, [{"name": "gone", "state": "absent"}], [])["users"] == []


def test_a_policy_differing_in_any_field_is_declared_and_one_to_remove_while_it_exists():
    for change in ({"pattern": "^u\\."}, {"apply_to": "all"}, {"definition": {"message-ttl": 1}}, {"priority": 2}):
        assert pending(read(), VHOSTS, USERS, [{**POLICIES[0], **change}])["policies"] == [{**POLICIES[0], **change}]
    assert pending(read(), VHOSTS, USERS, [{**POLICIES[0], "priority": "1"}])["policies"] == []
    assert pending(read(), VHOSTS, USERS, [{"name": "ttl", "vhost": "jobs", "state": "absent"}])["policies"] != []
    assert pending(read(), VHOSTS, USERS, [{"name": "none", "state": "absent"}])["policies"] == []


def test_guest_is_removed_while_it_exists_and_asked_for():
    with_guest = export()
    with_guest["users"].append({"name": "guest", "password_hash": salted("guest"), "tags": ["administrator"]})
    assert pending(read(with_guest), VHOSTS, USERS, POLICIES, True)["guest"] is True
    assert pending(read(with_guest), VHOSTS, USERS, POLICIES, False)["guest"] is False
    assert pending(read(), VHOSTS, USERS, POLICIES, True)["guest"] is False


def test_an_app_queue_of_another_type_is_named_with_its_vhost():
    accounts = [{"vhost": "jobs", "password": WORD, "queues": [{"name": "celery", "type": "classic"},
                                                               {"name": "old", "type": "classic"},
                                                               {"name": "absent", "type": "quorum"}]}]
    messages = conflicts(read(), accounts)
    assert messages == ["queue 'celery' on vhost 'jobs' is a quorum queue, but the app declares it classic"]
    assert WORD not in " ".join(messages)
    assert conflicts(read(), [{"vhost": "other", "queues": [{"name": "celery", "type": "classic"}]}]) == []
