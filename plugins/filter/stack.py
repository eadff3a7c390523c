"""The rules between the roles, decided once over the whole inventory.

No role can check these alone: the app's broker URL against what each broker declares
(account, password, vhost, listener, TLS), and Flower's port against a broker's ports on
the same host. They are read from every host of the inventory, whatever ``--limit`` says:
a broker outside the limit still decides what an app inside it can reach, and the
reverse. Each host's value is its inventory variable, or else its role's default (read
from the role's ``defaults/main.yml``, the same file the role loads).

Messages name the variable to change and never carry a secret: passwords are compared,
never printed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from ansible_collections.celery_stack.deploy.plugins.module_utils.listeners import broker_listeners, flag

DOCUMENTATION = """
name: stack_problems
short_description: what the roles of one inventory disagree on
description:
  - Takes C(hostvars) and C(groups); returns a list of messages, empty when the app's broker
    account, port and TLS agree with every broker, and Flower's port is free on its host.
positional: groups
options:
  _input:
    description: The play's C(hostvars).
    type: dict
    required: true
  groups:
    description: The play's C(groups) (the whole inventory's, not only the hosts of the run).
    type: dict
    required: true
"""

ROLES = Path(__file__).resolve().parents[2] / "roles"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SCHEME_PORTS = {"amqp": 5672, "amqps": 5671}


def role_defaults(role: str) -> dict:
    """A role's plain defaults. A templated default (a string holding "{{") is left out:
    only Ansible can evaluate it, and the two the rules need are spelled out below."""
    loaded = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    return {name: value for name, value in loaded.items() if not (isinstance(value, str) and "{{" in value)}


class Host:
    """One host's variables: the inventory's, else the role defaults given."""

    def __init__(self, name: str, hostvars, defaults: dict):
        self.name = name
        self._vars = hostvars[name] if name in hostvars else {}
        self._defaults = defaults

    def __getitem__(self, key: str):
        if key in self._vars:
            return self._vars[key]
        return self._defaults.get(key)

    def get(self, key: str, fallback=None):
        value = self[key]
        return fallback if value is None else value


def whole(value):
    """A port or a time as an int, or None when it is not a number (each role's own checks say so)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def broker_ports(broker: Host) -> dict:
    """Every port the broker listens on for clients, by the variable that sets it."""
    return {name: whole(value) for name, value in broker_listeners(broker.__getitem__).items()}


def broker_users(broker: Host) -> dict:
    """The users a broker will hold, by name: its rabbitmq_users that are present, and the
    app's account as the playbooks declare it there, from the broker host's own
    celery_app_broker_* variables (an entry of rabbitmq_users of the same name wins, as on
    the broker; the rabbitmq role checks that the two say the same)."""
    users = {}
    user = broker.get("celery_app_broker_user", "")
    if not broker.get("celery_app_broker_url", "") and user:
        users[user] = {"password": broker.get("celery_app_broker_password", ""),
                       "vhosts": {broker.get("celery_app_broker_vhost", "/")}}
    for entry in broker.get("rabbitmq_users", []):
        if isinstance(entry, dict) and entry.get("state", "present") == "present" and "name" in entry:
            users[entry["name"]] = {
                "password": entry.get("password") or "",
                "vhosts": {p.get("vhost") for p in entry.get("permissions") or [] if isinstance(p, dict)}}
    return users


def app_uses(app: Host, brokers: list[str], hostvars) -> list[dict]:
    """One entry per broker the app host will reach: the account, port and TLS it uses
    there, and the variable each comes from (the built URL's or the operator's own)."""
    url = app.get("celery_app_broker_url", "")
    if not url:
        tls = flag(app["celery_app_broker_tls"])
        # The role's default port is the scheme's (celery_app/defaults/main.yml).
        wanted = app["celery_app_broker_port"]
        wanted = SCHEME_PORTS["amqps" if tls else "amqp"] if wanted is None else whole(wanted)
        hosts = app["celery_app_broker_hosts"]
        # The role's default is every host of the rabbitmq group.
        hosts = brokers if hosts is None else hosts
        return [{"broker": broker, "source": "celery_app_broker_user", "user": app.get("celery_app_broker_user", ""),
                 "password": app.get("celery_app_broker_password", ""), "vhost": app.get("celery_app_broker_vhost", "/"),
                 "port": wanted, "port_source": "celery_app_broker_port", "tls": tls,
                 "tls_wants": f"celery_app_broker_tls is {str(tls).lower()}"}
                for broker in hosts if broker in brokers]
    uses = []
    for one in str(url).split(";"):
        try:
            parts = urlsplit(one.strip())
            parsed_port = parts.port
        except ValueError:
            continue
        if parts.scheme not in SCHEME_PORTS:
            continue
        local = parts.hostname in LOOPBACK and app.name in brokers
        for broker in brokers:
            names = {broker, (hostvars[broker] if broker in hostvars else {}).get("ansible_host", broker)}
            if (local and broker == app.name) or (not local and parts.hostname in names):
                uses.append({
                    "broker": broker, "source": "celery_app_broker_url", "user": unquote(parts.username or ""),
                    "password": unquote(parts.password or ""),
                    "vhost": unquote(parts.path[1:]) if len(parts.path) > 1 else "/",
                    "port": parsed_port or SCHEME_PORTS[parts.scheme], "port_source": "celery_app_broker_url",
                    "tls": parts.scheme == "amqps", "tls_wants": f"celery_app_broker_url uses {parts.scheme}://"})
    return uses


def use_problems(use: dict, broker: Host) -> list[str]:
    found = []
    own = use["source"] == "celery_app_broker_user"
    account = broker_users(broker).get(use["user"])
    if account is None:
        found.append(f"{use['source']} names broker user '{use['user']}', which broker {broker.name} does not declare"
                     " (the rabbitmq play declares the app's account from the celery_app_broker_* variables:"
                     " set them where the 'rabbitmq' group sees them too, e.g. group_vars/all)")
    else:
        if (account["password"] or "") != (use["password"] or ""):
            found.append(f"{'celery_app_broker_password' if own else use['source']} differs from the password"
                         f" broker {broker.name} declares for '{use['user']}'")
        if use["vhost"] not in account["vhosts"]:
            found.append(f"{'celery_app_broker_vhost' if own else use['source']} names vhost '{use['vhost']}',"
                         f" where broker {broker.name} gives '{use['user']}' no permissions")
    ports = broker_ports(broker)
    listener = "rabbitmq_amqps_port" if use["tls"] else "rabbitmq_amqp_port"
    if listener not in ports:
        found.append(f"{use['tls_wants']}, but broker {broker.name} "
                     + ("serves no AMQPS (rabbitmq_tls is off)" if use["tls"]
                        else "serves AMQPS only (rabbitmq_amqp_plain is off): set celery_app_broker_tls: true"))
    elif None not in (use["port"], ports[listener]) and use["port"] != ports[listener]:
        found.append(f"{use['port_source']} uses port {use['port']}, but broker {broker.name}"
                     f" listens on {ports[listener]} ({listener})")
    return found


# What a task's delivery may need beyond its run (seconds): the pool kills a task within
# about a second of its hard limit, then the failure is stored and the acknowledgement
# sent, well inside this. RabbitMQ takes a delivery back only once it is older than
# consumer_timeout, so a task acknowledged this long before that runs once.
ACK_MARGIN = 15


def time_problems(app: Host, broker: Host) -> list[str]:
    """With late acks a task stays unacknowledged while it runs, and a prefetched one while
    it waits for a process (at most prefetch multiplier runs): the broker's consumer_timeout
    must outlast that, or it takes the delivery back and another worker runs it again."""
    hard, prefetch = whole(app["celery_app_task_time_limit"]), whole(app["celery_app_prefetch_multiplier"])
    timeout = whole(broker["rabbitmq_consumer_timeout"])
    if None in (hard, prefetch, timeout) or hard < 1 or timeout < 1:
        return []  # each role's own checks name these
    if prefetch == 0:
        return [f"celery_app_prefetch_multiplier 0 (no limit) lets a worker hold a task unacknowledged for longer than "
                f"broker {broker.name}'s rabbitmq_consumer_timeout ({timeout} ms), which then hands it to another "
                "worker: set 1 or more"]
    if hard * prefetch + ACK_MARGIN > timeout / 1000:
        return [f"celery_app_task_time_limit ({hard} s) times celery_app_prefetch_multiplier ({prefetch}), plus "
                f"{ACK_MARGIN} s, must be below broker {broker.name}'s rabbitmq_consumer_timeout ({timeout} ms): a task "
                f"may otherwise be taken back while it runs or waits, and run again; lower the limit or raise "
                f"rabbitmq_consumer_timeout to at least {(hard * prefetch + ACK_MARGIN) * 1000}"]
    return []


def stack_problems(hostvars, groups) -> list[str]:
    """What the roles of this inventory disagree on, as messages (empty: they agree)."""
    defaults = {role: role_defaults(role) for role in ("celery_app", "rabbitmq", "flower")}
    brokers = list(groups.get("rabbitmq", []))
    apps = list(dict.fromkeys(list(groups.get("celery_workers", [])) + list(groups.get("flower", []))))
    broker_defaults = {**defaults["celery_app"], **defaults["rabbitmq"]}

    # Each problem once, with the app hosts that have it (one line, not one per worker).
    seen: dict[str, list[str]] = {}
    for name in apps:
        app = Host(name, hostvars, defaults["celery_app"])
        for use in app_uses(app, brokers, hostvars):
            broker = Host(use["broker"], hostvars, broker_defaults)
            # Flower's host runs no task: its time limits are never used.
            timed = time_problems(app, broker) if name in groups.get("celery_workers", []) else []
            for problem in use_problems(use, broker) + timed:
                seen.setdefault(problem, []).append(name)
    found = [f"{problem} (app hosts: {', '.join(hosts)})" for problem, hosts in seen.items()]
    for name in groups.get("flower", []):
        if name in brokers:
            both = Host(name, hostvars, {**broker_defaults, **defaults["flower"]})
            flower_port = whole(both["flower_port"])
            taken = [var for var, value in broker_ports(both).items() if value is not None and value == flower_port]
            if taken:
                found.append(f"flower_port {flower_port} is taken on {name} by the broker"
                             f" ({', '.join(taken)}): choose another flower_port")
    return found


class FilterModule:
    def filters(self):
        return {"stack_problems": stack_problems}
