"""How the rabbitmq role's users and policies read, written once: the module that reads a node's
definitions (rabbitmq_definitions_info), the one that declares them (rabbitmq_declare)
and the filter that compares the two (plugins/filter/broker.py) use the same rules."""

NOTHING = "^$"


def tags(value) -> list:
    """A user's tags as a sorted set: a list since RabbitMQ 3.9, a comma-separated string before."""
    if isinstance(value, str):
        value = value.split(",")
    return sorted({tag.strip() for tag in value or [] if tag.strip()})


def permissions_found(entries: list) -> dict:
    """The patterns a node's definitions hold, by (user, vhost), in the shape of
    wanted_permissions' values, so the two compare with ==."""
    return {(entry["user"], entry["vhost"]): {key: entry.get(key, "") for key in ("configure", "write", "read")}
            for entry in entries}


def wanted_permissions(user: dict) -> dict:
    """A user's patterns by vhost, as community.rabbitmq.rabbitmq_user sets them: a pattern
    left out is ^$, and a user given no permissions at all gets ^$ on the default vhost."""
    entries = user.get("permissions") or [{"vhost": "/"}]
    return {
        entry.get("vhost") or "/": {key: entry.get(key) or NOTHING for key in ("configure", "write", "read")}
        for entry in entries
    }


def policy_entry(policy: dict) -> dict:
    """A policy as RabbitMQ's definitions hold it, from the role's form (apply_to) or the
    node's read back as rabbitmq_definitions_info returns it; two policies are the same
    when their entries are equal."""
    return {
        "vhost": policy.get("vhost") or "/",
        "name": policy["name"],
        "pattern": policy.get("pattern") or "",
        "apply-to": policy.get("apply_to") or "all",
        "definition": policy.get("definition") or {},
        "priority": int(policy.get("priority") or 0),
    }
