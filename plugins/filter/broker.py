"""What the broker holds against what the inventory declares, from one read of the node's
definitions (plugins/modules/rabbitmq_definitions_info.py), with unit tests in
tests/test_broker_filter.py.

- rabbitmq_pending: what the rabbitmq role still has to declare, in two parts. `add`:
  the vhosts, users (password, tags, permissions on their vhosts) and policies that one
  import of definitions adds or replaces (plugins/modules/rabbitmq_declare.py, which
  compares again itself). `take_away`: what an import cannot do, left to the
  community.rabbitmq modules: vhosts, users and policies to remove, and users holding
  permissions on other vhosts or topic permissions to take away. And whether the guest
  account is still there. The rules are those of community.rabbitmq.rabbitmq_user: where
  this filter is unsure, it lists the object, so a difference is never hidden (an object
  listed in vain costs one call, no change).
- rabbitmq_queue_conflicts: the apps' queues that exist with another type than the app
  declares (RabbitMQ refuses such a declaration, and the worker would consume nothing).
- rabbitmq_dead_letters: what the apps' accounts ask of the broker so that a task that
  keeps failing its deliveries ends in a queue an operator reads: per account, a durable
  fanout exchange and a quorum queue bound to it (both named after the dead-letter queue),
  and a policy on the account's vhost that gives the queues its pattern matches a
  delivery limit and that exchange, with at-least-once dead-lettering.
"""

from __future__ import annotations

import re

from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_objects import (permissions_found, policy_entry, tags,
                                                                                     topology_differences, type_conflict,
                                                                                     wanted_permissions)

DOCUMENTATION = """
name: rabbitmq_pending
short_description: what a broker still lacks of its declared vhosts, users and policies
description:
  - rabbitmq_pending and rabbitmq_queue_conflicts; see the module's docstring for each.
options:
  _input:
    description: The result of celery_stack.deploy.rabbitmq_definitions_info.
    type: dict
    required: true
"""

def _present(item: dict) -> bool:
    return item.get("state", "present") == "present"


def _permissions_found(name: str, state: dict) -> dict:
    """The user's patterns by vhost, as the node holds them."""
    return {vhost: patterns for (user, vhost), patterns in permissions_found(state.get("permissions", [])).items()
            if user == name}


def _import_differs(user: dict, state: dict) -> bool:
    """Whether the user is missing, or its password, tags or permissions on its own vhosts
    differ (what an import sets)."""
    found = state.get("users", {}).get(user["name"])
    if found is None or not found.get("password_matches", False):
        return True
    if tags(user.get("tags")) != tags(found.get("tags")):
        return True
    has = _permissions_found(user["name"], state)
    return any(has.get(vhost) != wanted for vhost, wanted in wanted_permissions(user).items())


def _module_needed(user: dict, state: dict) -> bool:
    """Whether something must be taken away: the user itself (state absent), its
    permissions on vhosts it is not given (when it is given any: with none,
    community.rabbitmq.rabbitmq_user compares the default vhost only), its topic permissions."""
    name = user["name"]
    found = state.get("users", {}).get(name)
    if found is None:
        return False
    if not _present(user):
        return True
    if user.get("permissions") and set(_permissions_found(name, state)) - set(wanted_permissions(user)):
        return True
    return any(entry.get("user") == name for entry in state.get("topic_permissions", []))


def _policy_differs(policy: dict, state: dict) -> bool:
    vhost = policy.get("vhost") or "/"
    found = next((p for p in state.get("policies", []) if p["vhost"] == vhost and p["name"] == policy["name"]), None)
    if not _present(policy):
        return found is not None
    return found is None or policy_entry(found) != policy_entry(policy)


def rabbitmq_pending(state: dict, vhosts: list, users: list, policies: list, remove_guest: bool = True,
                     topology: dict | None = None) -> dict:
    """The declarations still to make: `add` holds vhost and user names, the role's policy
    entries and the missing exchanges, queues and bindings (of `topology`) for the import,
    `take_away` the vhost entries, user names and policy entries for the
    community.rabbitmq modules. A broker that could not be read (state.available false)
    lacks everything."""
    if not state.get("available", False):
        state = {"vhosts": [], "users": {}, "permissions": [], "topic_permissions": [], "policies": []}
    topology = topology or {}
    missing = topology_differences(state, topology.get("exchanges", []), topology.get("queues", []),
                                   topology.get("bindings", []))
    have_vhosts = set(state.get("vhosts", []))
    pending_policies = [p for p in policies if _policy_differs(p, state)]
    return {
        "add": {
            "vhosts": [v["name"] for v in vhosts if _present(v) and v["name"] not in have_vhosts],
            "users": [u["name"] for u in users if _present(u) and _import_differs(u, state)],
            "policies": [p for p in pending_policies if _present(p)],
            # Another type (a conflict) counts as missing: the import then names it and stops.
            "topology": bool(missing["exchanges"] or missing["queues"] or missing["bindings"] or missing["conflicts"]),
        },
        "take_away": {
            "vhosts": [v for v in vhosts if not _present(v) and v["name"] in have_vhosts],
            "users": [u["name"] for u in users if _module_needed(u, state)],
            "policies": [p for p in pending_policies if not _present(p)],
        },
        "guest": bool(remove_guest) and "guest" in state.get("users", {}),
    }


# The queue that holds a queue's messages while it is declared anew: named here only, and
# handed to celery_stack.migrate_queues with each move.
HOLDING_SUFFIX = ".migrating"


def rabbitmq_queue_moves(state: dict, accounts: list) -> list[dict]:
    """The app queues playbooks/migrate-queues.yml must move: each that exists on its vhost
    with another type (`sentence` says so), and each whose holding queue a cut-off move
    left behind (`renewed`: the queue has its new type already). `holding` names the queue
    that holds its messages meanwhile."""
    found = {(q["vhost"], q["name"]): q["type"] for q in state.get("queues", [])}
    moves = []
    for account in accounts:
        vhost = account["vhost"]
        for wanted in account.get("queues") or []:
            name = wanted["name"]
            sentence = type_conflict("queue", vhost, name, found.get((vhost, name)), wanted["type"],
                                     wants="but the app declares it")
            holding = name + HOLDING_SUFFIX
            if sentence:
                moves.append({"vhost": vhost, "queue": name, "holding": holding, "renewed": False,
                              "sentence": sentence})
            elif (vhost, holding) in found:
                moves.append({"vhost": vhost, "queue": name, "holding": holding, "renewed": (vhost, name) in found,
                              "sentence": f"queue '{name}' on vhost '{vhost}' has tasks left in '{holding}'"})
    return moves


def rabbitmq_queue_conflicts(state: dict, accounts: list) -> list[str]:
    """One sentence per app queue that exists on its vhost with another type, or whose
    tasks wait in a holding queue: the workers could not consume them."""
    return [move["sentence"] for move in rabbitmq_queue_moves(state, accounts)]


def limits_quorum_deliveries(version: str) -> bool:
    """Whether a broker of this version (the node's own, as export_definitions says it)
    gives every quorum queue a delivery limit of its own: RabbitMQ 4.0 and later (20).
    3.x has none, and refuses -1, the value that lifts it. An unknown version counts as
    3.x: a policy 3.x refuses would stop the import."""
    major = re.match(r"\s*(\d+)\.", str(version or ""))
    return bool(major) and int(major.group(1)) >= 4


def rabbitmq_dead_letters(accounts: list, version: str = "") -> dict:
    """The exchanges, queues, bindings and policies of the accounts' dead-letter queues, in
    the shapes of rabbitmq_declare's options and rabbitmq_policies. An account's
    `dead_letter` names the queue, the delivery limit and the pattern of the queues it
    covers; an account without one asks for nothing. version: the broker's; where it gives
    every quorum queue a delivery limit of its own (limits_quorum_deliveries), the
    dead-letter queue must not have it: an operator who looked at its tasks 20 times (each
    look hands them back) would lose them, dropped for good."""
    default_limit = limits_quorum_deliveries(version)
    found = {"exchanges": [], "queues": [], "bindings": [], "policies": []}
    for account in accounts:
        dead = account.get("dead_letter") or {}
        if not dead:
            continue
        vhost, name = account["vhost"], dead["queue"]
        found["exchanges"].append({"vhost": vhost, "name": name, "type": "fanout"})
        found["queues"].append({"vhost": vhost, "name": name, "type": "quorum"})
        found["bindings"].append({"vhost": vhost, "source": name, "destination": name, "routing_key": ""})
        found["policies"].append({
            "vhost": vhost, "name": "app-dead-letter", "pattern": dead["pattern"], "apply_to": "queues", "priority": 0,
            "definition": {
                # Quorum queues count every delivery that comes back (a rejection, a closed
                # channel); past the limit the message is dead-lettered, not redelivered.
                "delivery-limit": int(dead["delivery_limit"]),
                "dead-letter-exchange": name,
                # The message stays in its queue until the dead-letter queue confirms it
                # (at-most-once, the default, could lose it); RabbitMQ asks reject-publish
                # overflow for this strategy.
                "dead-letter-strategy": "at-least-once",
                "overflow": "reject-publish",
            },
        })
        if default_limit:
            found["policies"].append({
                "vhost": vhost, "name": "app-dead-letter-queue", "pattern": f"^{re.escape(name)}$", "apply_to": "queues",
                "priority": 0, "definition": {"delivery-limit": -1},
            })
    return found


class FilterModule:
    def filters(self):
        return {"rabbitmq_pending": rabbitmq_pending, "rabbitmq_queue_conflicts": rabbitmq_queue_conflicts,
                "rabbitmq_queue_moves": rabbitmq_queue_moves,
                "rabbitmq_dead_letters": rabbitmq_dead_letters}
