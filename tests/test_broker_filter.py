"""One read of a broker's definitions (plugins/modules/rabbitmq_definitions_info.py), what
the rabbitmq role still declares after it (plugins/filter/broker.py), and the one import
that declares it (plugins/modules/rabbitmq_declare.py)."""

import base64
import hashlib
import json
import os
import re
import secrets
import sys
from pathlib import Path

from support.plugins import load, load_filter

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
broker = load_filter("broker").FilterModule().filters()
info = load("rabbitmq_definitions_info", PLUGINS / "modules" / "rabbitmq_definitions_info.py")
declare = load("rabbitmq_declare", PLUGINS / "modules" / "rabbitmq_declare.py")
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


NOTHING = {"add": {"vhosts": [], "users": [], "policies": [], "topology": False},
           "take_away": {"vhosts": [], "users": [], "policies": []}, "guest": False}


def test_the_read_holds_no_password_hash_and_checks_each_wanted_password():
    state = read()
    assert "password_hash" not in json.dumps(state)
    assert state["users"]["app"] == {"tags": ["monitoring"], "password_matches": True}
    assert state["users"]["watcher"]["password_matches"] is True
    assert read(passwords={"app": OTHER})["users"]["app"]["password_matches"] is False
    # No wanted password given: never a match, so the role sets it.
    assert read(passwords={})["users"]["app"]["password_matches"] is False


def test_a_hash_the_setter_makes_is_one_the_reader_matches_in_every_algorithm():
    # rabbitmq_declare writes what rabbitmq_definitions_info then compares.
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
        "add": {"vhosts": ["jobs"], "users": ["app", "watcher"], "policies": POLICIES, "topology": False},
        "take_away": {"vhosts": [], "users": [], "policies": []}, "guest": False}


def test_a_missing_vhost_is_added_and_one_to_remove_taken_away_while_it_exists():
    got = pending(read(), [{"name": "new"}, {"name": "jobs", "state": "absent"}, {"name": "gone", "state": "absent"}],
                  USERS, POLICIES)
    assert got["add"]["vhosts"] == ["new"]
    assert got["take_away"]["vhosts"] == [{"name": "jobs", "state": "absent"}]


def test_a_changed_password_and_a_missing_user_are_added():
    state = read(passwords={"app": OTHER, "watcher": OTHER})
    got = pending(state, VHOSTS, USERS + [{"name": "new"}], POLICIES)
    assert got["add"]["users"] == ["app", "new"]
    assert got["take_away"]["users"] == []


def test_tags_are_compared_as_a_set():
    assert pending(read(), VHOSTS, [{**USERS[0], "tags": ["monitoring", "monitoring"]}, USERS[1]], [])["add"]["users"] == []
    assert pending(read(), VHOSTS, [{**USERS[0], "tags": ["administrator"]}, USERS[1]], [])["add"]["users"] == ["app"]


def test_a_pattern_or_a_missing_vhost_is_added_and_one_vhost_too_many_taken_away():
    changed = {**USERS[0], "permissions": [{"vhost": "jobs", "configure": ".*", "write": "^x$", "read": ".*"}]}
    assert pending(read(), VHOSTS, [changed], [])["add"]["users"] == ["app"]
    # A pattern left out grants nothing, as the role sets it.
    left_out = {**USERS[0], "permissions": [{"vhost": "jobs", "configure": ".*", "read": ".*"}]}
    assert pending(read(), VHOSTS, [left_out], [])["add"]["users"] == ["app"]
    more = {**USERS[0], "permissions": USERS[0]["permissions"] + [{"vhost": "/"}]}
    assert pending(read(), VHOSTS, [more], [])["add"]["users"] == ["app"]
    # An import only adds: the permissions on a vhost the user is not given are taken away
    # by community.rabbitmq.rabbitmq_user.
    extra = export()
    extra["permissions"].append({"user": "app", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"})
    got = pending(read(extra), VHOSTS, USERS, [])
    assert got["add"]["users"] == [] and got["take_away"]["users"] == ["app"]


def test_a_user_with_no_permissions_is_held_to_nothing_on_the_default_vhost():
    # As community.rabbitmq.rabbitmq_user does with no permissions given.
    loose = export()
    loose["permissions"][1]["read"] = ".*"
    assert pending(read(loose), VHOSTS, USERS, [])["add"]["users"] == ["watcher"]
    none_at_all = export()
    del none_at_all["permissions"][1]
    assert pending(read(none_at_all), VHOSTS, USERS, [])["add"]["users"] == ["watcher"]
    elsewhere = export()
    elsewhere["permissions"].append({"user": "watcher", "vhost": "jobs", "configure": ".*", "write": ".*", "read": ".*"})
    assert pending(read(elsewhere), VHOSTS, USERS, []) == NOTHING


def test_topic_permissions_the_role_never_grants_are_taken_away():
    topic = export(topic_permissions=[{"user": "app", "vhost": "jobs", "exchange": "amq.topic", "write": ".*", "read": ".*"}])
    assert pending(read(topic), VHOSTS, USERS, [])["take_away"]["users"] == ["app"]


def test_a_user_to_remove_is_taken_away_while_it_exists():
    assert pending(read(), VHOSTS, [{"name": "watcher", "state": "absent"}], [])["take_away"]["users"] == ["watcher"]
    assert pending(read(), VHOSTS, [{"name": "gone", "state": "absent"}], []) == NOTHING


def test_a_policy_differing_in_any_field_is_added_and_one_to_remove_taken_away_while_it_exists():
    for change in ({"pattern": "^u\\."}, {"apply_to": "all"}, {"definition": {"message-ttl": 1}}, {"priority": 2}):
        assert pending(read(), VHOSTS, USERS, [{**POLICIES[0], **change}])["add"]["policies"] == [{**POLICIES[0], **change}]
    assert pending(read(), VHOSTS, USERS, [{**POLICIES[0], "priority": "1"}]) == NOTHING
    gone = {"name": "ttl", "vhost": "jobs", "state": "absent"}
    assert pending(read(), VHOSTS, USERS, [gone])["take_away"]["policies"] == [gone]
    assert pending(read(), VHOSTS, USERS, [{"name": "none", "state": "absent"}]) == NOTHING


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


def test_the_queues_to_move_are_those_of_another_type_and_those_with_tasks_left_in_their_holding_queue():
    moves = broker["rabbitmq_queue_moves"]
    accounts = [{"vhost": "jobs", "queues": [{"name": "old", "type": "quorum"}, {"name": "celery", "type": "quorum"},
                                             {"name": "absent", "type": "quorum"}]}]
    assert [(m["queue"], m["renewed"]) for m in moves(read(), accounts)] == [("old", False)]
    assert moves(read(), accounts)[0]["sentence"] == "queue 'old' on vhost 'jobs' is a classic queue, but the app declares it quorum"
    # A move cut off after the queue was declared anew, or before: the holding queue says so.
    holding = export()
    holding["queues"] += [{"vhost": "jobs", "name": "celery.migrating", "arguments": {"x-queue-type": "quorum"}},
                          {"vhost": "jobs", "name": "absent.migrating", "arguments": {"x-queue-type": "quorum"}}]
    found = moves(read(holding), accounts)
    assert [(m["queue"], m["renewed"]) for m in found] == [("old", False), ("celery", True), ("absent", False)]
    assert "tasks left in 'celery.migrating'" in found[1]["sentence"]
    # the move is told where the tasks wait
    assert [m["holding"] for m in found] == ["old.migrating", "celery.migrating", "absent.migrating"]
    # site.yml's checks refuse all three: the workers could not consume those tasks
    assert len(conflicts(read(holding), accounts)) == 3


# The import (plugins/modules/rabbitmq_declare.py): the users as the role hands them, and
# their passwords apart.


def imported(definitions: dict, document: dict) -> dict:
    """The node's definitions after an import: it adds and replaces, never removes."""
    after = json.loads(json.dumps(definitions))
    after["vhosts"] += [v for v in document["vhosts"] if v["name"] not in {h["name"] for h in after["vhosts"]}]
    for kind, key in (("users", ("name",)), ("permissions", ("user", "vhost")), ("policies", ("vhost", "name")),
                      ("exchanges", ("vhost", "name")), ("queues", ("vhost", "name")), ("bindings", ("vhost", "source", "destination"))):
        new = {tuple(entry[k] for k in key) for entry in document.get(kind, [])}
        after[kind] = [e for e in after.get(kind, []) if tuple(e[k] for k in key) not in new] + document.get(kind, [])
    return after


def declared(definitions: dict, vhosts=("jobs",), users=USERS, wanted=PASSWORDS, policies=POLICIES, **topology):
    differ = declare.differences(definitions, list(vhosts), users, wanted, policies, **topology)
    return differ, declare.document(definitions, list(vhosts), users, wanted, policies, differ, **topology)


def test_the_import_finds_nothing_to_do_on_a_broker_as_declared():
    differ, document = declared(export())
    assert differ == {"vhosts": [], "users": [], "policies": [], "exchanges": [], "queues": [], "bindings": []}
    assert document == {"vhosts": [], "users": [], "permissions": [], "policies": []}


def test_one_import_declares_a_new_broker_and_holds_no_password():
    fresh = {"vhosts": [{"name": "/"}], "users": [], "permissions": [], "topic_permissions": [], "policies": []}
    differ, document = declared(fresh)
    assert differ == {"vhosts": ["jobs"], "users": ["app", "watcher"], "policies": [["jobs", "ttl"]],
                      "exchanges": [], "queues": [], "bindings": []}
    assert WORD not in json.dumps(document) and OTHER not in json.dumps(document)
    assert document["policies"] == [{"vhost": "jobs", "name": "ttl", "pattern": "^t\\.", "apply-to": "queues",
                                     "definition": {"message-ttl": 60000}, "priority": 1}]
    # A user given no permissions is held to nothing on the default vhost.
    assert {"user": "watcher", "vhost": "/", "configure": "^$", "write": "^$", "read": "^$"} in document["permissions"]
    after = imported(fresh, document)
    assert not any(declare.differences(after, ["jobs"], USERS, PASSWORDS, POLICIES).values())
    # What the role reads afterwards agrees: nothing left to declare.
    assert pending({"available": True, **info.summary(after, PASSWORDS)}, VHOSTS, USERS, POLICIES) == NOTHING


def test_a_password_that_matches_keeps_its_hash_and_a_changed_one_gets_a_new_one_in_the_same_algorithm():
    definitions = export()
    users = [{**USERS[0], "tags": ["administrator"]}, USERS[1]]
    differ, document = declared(definitions, users=users, wanted={"app": WORD, "watcher": WORD})
    assert differ["users"] == ["app", "watcher"]
    app, watcher = document["users"]
    # Only the tags changed: the stored hash goes back unchanged, the limits kept.
    assert app["password_hash"] == definitions["users"][0]["password_hash"] and app["tags"] == ["administrator"]
    assert app["limits"] == {}
    assert watcher["hashing_algorithm"] == "rabbit_password_hashing_sha512"
    assert passwords.matches(watcher, WORD) and not passwords.matches(watcher, OTHER)


def test_a_policy_is_imported_only_when_it_differs():
    differ, document = declared(export(), policies=[{**POLICIES[0], "priority": 5}])
    assert differ["policies"] == [["jobs", "ttl"]] and document["policies"][0]["priority"] == 5
    assert declared(export(), policies=[{**POLICIES[0], "priority": "1"}])[0]["policies"] == []


def test_a_hashing_algorithm_the_module_cannot_make_is_named_with_the_user():
    odd = export()
    odd["users"][0]["hashing_algorithm"] = "rabbit_password_hashing_x"
    try:
        declared(odd)
    except ValueError as error:
        assert "user app is hashed with rabbit_password_hashing_x" in str(error)
        assert WORD not in str(error)
    else:
        raise AssertionError("an unknown hashing algorithm was not refused")


# The apps' dead-letter queues: what the account asks (rabbitmq_dead_letters), declared in
# the same import, once.

DEAD = broker["rabbitmq_dead_letters"]([{"vhost": "jobs", "dead_letter": {
    "queue": "celery.dead-letter", "delivery_limit": 10, "pattern": "^(?!celery\\.dead\\-letter$)"}}])


def test_an_account_with_a_dead_letter_queue_asks_for_an_exchange_a_quorum_queue_a_binding_and_a_policy():
    assert DEAD["exchanges"] == [{"vhost": "jobs", "name": "celery.dead-letter", "type": "fanout"}]
    assert DEAD["queues"] == [{"vhost": "jobs", "name": "celery.dead-letter", "type": "quorum"}]
    assert DEAD["bindings"] == [{"vhost": "jobs", "source": "celery.dead-letter", "destination": "celery.dead-letter",
                                 "routing_key": ""}]
    (policy,) = DEAD["policies"]
    assert policy["name"] == "app-dead-letter" and policy["apply_to"] == "queues"
    assert policy["definition"] == {"delivery-limit": 10, "dead-letter-exchange": "celery.dead-letter",
                                    "dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}
    assert broker["rabbitmq_dead_letters"]([{"vhost": "jobs"}]) == {"exchanges": [], "queues": [], "bindings": [],
                                                                    "policies": []}


def test_where_the_broker_limits_every_quorum_queue_the_dead_letter_queue_is_unlimited():
    accounts = [{"vhost": "jobs", "dead_letter": {"queue": "celery.dead-letter", "delivery_limit": 10, "pattern": "^x"}}]
    policies = broker["rabbitmq_dead_letters"](accounts, "4.0.5")["policies"]
    assert [p["name"] for p in policies] == ["app-dead-letter", "app-dead-letter-queue"]
    assert policies[1]["definition"] == {"delivery-limit": -1}
    assert re.search(policies[1]["pattern"], "celery.dead-letter") and not re.search(policies[1]["pattern"], "celery-dead-letter")
    assert broker["rabbitmq_dead_letters"](accounts, "4.1.0-beta.1")["policies"] == policies
    # 3.x has no default limit and refuses -1; a version not known counts as 3.x
    for older in ("3.10.8", "3.13.7", "", None, "unknown"):
        assert broker["rabbitmq_dead_letters"](accounts, older)["policies"] == policies[:1], older


def test_the_node_says_its_version_in_the_definitions_read():
    assert read(export(rabbitmq_version="4.0.5"))["version"] == "4.0.5"
    assert read(export())["version"] == ""


def test_the_dead_letter_queue_is_declared_once_in_the_import_and_then_found():
    fresh = {"vhosts": [{"name": "/"}], "users": [], "permissions": [], "topic_permissions": [], "policies": []}
    assert pending({"available": True, **info.summary(fresh, PASSWORDS)}, VHOSTS, USERS,
                   POLICIES + DEAD["policies"], True, DEAD)["add"]["topology"] is True
    topology = {kind: DEAD[kind] for kind in ("exchanges", "queues", "bindings")}
    differ, document = declared(fresh, policies=POLICIES + DEAD["policies"], **topology)
    assert document["queues"] == [{"vhost": "jobs", "name": "celery.dead-letter", "durable": True, "auto_delete": False,
                                   "arguments": {"x-queue-type": "quorum"}}]
    assert document["exchanges"][0]["type"] == "fanout" and document["bindings"][0]["destination_type"] == "queue"
    after = imported(fresh, document)
    assert not any(declare.differences(after, ["jobs"], USERS, PASSWORDS, POLICIES + DEAD["policies"], **topology).values())
    assert pending({"available": True, **info.summary(after, PASSWORDS)}, VHOSTS, USERS,
                   POLICIES + DEAD["policies"], True, DEAD) == NOTHING


def declared_topology(definitions, **topology):
    return declare.differences(definitions, ["jobs"], USERS, PASSWORDS, POLICIES, **topology)


def test_a_dead_letter_queue_or_exchange_of_another_type_stops_the_import_naming_it():
    for extra, expected in (
            ({"queues": [{"vhost": "jobs", "name": "celery.dead-letter", "durable": True, "arguments": {}}]},
             "queue 'celery.dead-letter' on vhost 'jobs' is a classic queue, not quorum"),
            ({"exchanges": [{"vhost": "jobs", "name": "celery.dead-letter", "type": "topic"}]},
             "exchange 'celery.dead-letter' on vhost 'jobs' is a topic exchange, not fanout")):
        definitions = export(**extra) if "exchanges" in extra else {**export(), "queues": export()["queues"] + extra["queues"]}
        try:
            declared_topology(definitions, exchanges=DEAD["exchanges"], queues=DEAD["queues"], bindings=DEAD["bindings"])
        except ValueError as error:
            assert expected in str(error)
        else:
            raise AssertionError(f"not refused: {expected}")
        # The role's read says so too: the import is called, and stops there.
        assert pending(read(definitions), VHOSTS, USERS, POLICIES, True, DEAD)["add"]["topology"] is True
