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


# Exchanges, queues and bindings the role declares (the apps' dead-letter exchanges and
# queues): durable, never deleted when unused, in the forms the definitions hold.


def exchange_entry(exchange: dict) -> dict:
    return {"vhost": exchange.get("vhost") or "/", "name": exchange["name"], "type": exchange.get("type") or "direct",
            "durable": True, "auto_delete": False, "internal": False, "arguments": {}}


def queue_kind(queue: dict) -> str:
    """A queue's type: a field since RabbitMQ 3.10's definitions, an argument before, and
    classic when neither says."""
    return queue.get("type") or (queue.get("arguments") or {}).get("x-queue-type") or "classic"


def queue_entry(queue: dict) -> dict:
    return {"vhost": queue.get("vhost") or "/", "name": queue["name"], "durable": True, "auto_delete": False,
            "arguments": {"x-queue-type": queue_kind(queue)}}


def binding_entry(binding: dict) -> dict:
    return {"vhost": binding.get("vhost") or "/", "source": binding["source"], "destination": binding["destination"],
            "destination_type": binding.get("destination_type") or "queue",
            "routing_key": binding.get("routing_key") or "", "arguments": binding.get("arguments") or {}}


def type_conflict(what: str, vhost: str, name: str, have, wanted, wants: str = "not") -> str | None:
    """The sentence for an exchange or queue that exists (`have`, its type) with another
    type than `wanted`, which RabbitMQ refuses to declare again; None when it does not
    exist or has that type. `wants` words the wanted type ("not", "but the app declares it")."""
    if have is None or have == wanted:
        return None
    return f"{what} '{name}' on vhost '{vhost}' is a {have} {what}, {wants} {wanted}"


def topology_differences(definitions: dict, exchanges: list, queues: list, bindings: list) -> dict:
    """The wanted exchanges and queues the definitions lack (by vhost and name) and the
    bindings they lack, as entries to import; `conflicts` names an exchange or queue that
    exists with another type, which RabbitMQ refuses to declare again."""
    have_exchanges = {(e["vhost"], e["name"]): e.get("type") for e in definitions.get("exchanges", [])}
    have_queues = {(q["vhost"], q["name"]): queue_kind(q) for q in definitions.get("queues", [])}
    have_bindings = [binding_entry(b) for b in definitions.get("bindings", [])]
    found = {"exchanges": [], "queues": [], "bindings": [], "conflicts": []}
    for entry in map(exchange_entry, exchanges):
        key = (entry["vhost"], entry["name"])
        if key not in have_exchanges:
            found["exchanges"].append(entry)
        found["conflicts"].append(type_conflict("exchange", *key, have_exchanges.get(key), entry["type"]))
    for entry, wanted in zip(map(queue_entry, queues), queues):
        key = (entry["vhost"], entry["name"])
        if key not in have_queues:
            found["queues"].append(entry)
        found["conflicts"].append(type_conflict("queue", *key, have_queues.get(key), queue_kind(wanted)))
    found["conflicts"] = [sentence for sentence in found["conflicts"] if sentence]
    found["bindings"] = [entry for entry in map(binding_entry, bindings) if entry not in have_bindings]
    return found
