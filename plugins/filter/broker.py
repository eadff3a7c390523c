"""What the broker holds against what the inventory declares, from one read of the node's
definitions (plugins/modules/rabbitmq_definitions_info.py), with unit tests in
tests/test_broker_filter.py.

- rabbitmq_pending: the vhosts, passwords, users and policies the rabbitmq role still has
  to declare, and whether the guest account is still there. The role hands only these to
  the community.rabbitmq modules, which then compare and change as they always do. The
  rules are those of the modules: where this filter is unsure, it lists the object, so a
  difference is never hidden (an object listed in vain costs one module call, no change).
- rabbitmq_queue_conflicts: the apps' queues that exist with another type than the app
  declares (RabbitMQ refuses such a declaration, and the worker would consume nothing).
"""

from __future__ import annotations

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

NOTHING = "^$"


def _present(item: dict) -> bool:
    return item.get("state", "present") == "present"


def _wanted_permissions(user: dict) -> dict:
    """By vhost, as community.rabbitmq.rabbitmq_user sets them: a pattern left out is ^$,
    and a user given no permissions at all gets ^$ on the default vhost."""
    entries = user.get("permissions") or [{"vhost": "/"}]
    return {
        entry.get("vhost", "/"): {key: entry.get(key) or NOTHING for key in ("configure", "write", "read")}
        for entry in entries
    }


def _user_differs(user: dict, state: dict) -> bool:
    name = user["name"]
    found = state.get("users", {}).get(name)
    if not _present(user):
        return found is not None
    if found is None:
        return True
    if sorted(set(user.get("tags") or [])) != sorted(set(found.get("tags") or [])):
        return True
    wanted = _wanted_permissions(user)
    has = {
        entry["vhost"]: {key: entry.get(key, "") for key in ("configure", "write", "read")}
        for entry in state.get("permissions", []) if entry.get("user") == name
    }
    if not user.get("permissions"):
        # The module compares the default vhost only in this case.
        has = {"/": has["/"]} if "/" in has else {}
    if has != wanted:
        return True
    return any(entry.get("user") == name for entry in state.get("topic_permissions", []))


def _policy_differs(policy: dict, state: dict) -> bool:
    vhost = policy.get("vhost", "/")
    found = next((p for p in state.get("policies", []) if p["vhost"] == vhost and p["name"] == policy["name"]), None)
    if not _present(policy):
        return found is not None
    if found is None:
        return True
    return (
        found.get("pattern") != policy.get("pattern")
        or found.get("apply_to") != policy.get("apply_to", "all")
        or found.get("definition") != policy.get("definition")
        or int(found.get("priority", 0)) != int(policy.get("priority", 0))
    )


def rabbitmq_pending(state: dict, vhosts: list, users: list, policies: list, remove_guest: bool = True) -> dict:
    """The declarations still to make, each as the role's own entry (passwords by name only).
    A broker that could not be read (state.available false) lacks everything."""
    if not state.get("available", False):
        state = {"vhosts": [], "users": {}, "permissions": [], "topic_permissions": [], "policies": []}
    have_vhosts = set(state.get("vhosts", []))
    found_users = state.get("users", {})
    return {
        "vhosts": [v for v in vhosts if _present(v) != (v["name"] in have_vhosts)],
        "passwords": [
            u["name"] for u in users
            if _present(u) and not (found_users.get(u["name"]) or {}).get("password_matches", False)
        ],
        "users": [u["name"] for u in users if _user_differs(u, state)],
        "policies": [p for p in policies if _policy_differs(p, state)],
        "guest": bool(remove_guest) and "guest" in found_users,
    }


def rabbitmq_queue_conflicts(state: dict, accounts: list) -> list[str]:
    """One sentence per app queue that exists on its vhost with another type."""
    found = {(q["vhost"], q["name"]): q["type"] for q in state.get("queues", [])}
    conflicts = []
    for account in accounts:
        for wanted in account.get("queues") or []:
            kind = found.get((account["vhost"], wanted["name"]))
            if kind is not None and kind != wanted["type"]:
                conflicts.append(
                    f"queue '{wanted['name']}' on vhost '{account['vhost']}' is a {kind} queue, "
                    f"but the app declares it {wanted['type']}"
                )
    return conflicts


class FilterModule:
    def filters(self):
        return {"rabbitmq_pending": rabbitmq_pending, "rabbitmq_queue_conflicts": rabbitmq_queue_conflicts}
