"""Each role's input rules that its argument spec cannot express.

The argument spec (meta/argument_specs.yml) has already checked types, choices and
required options when these run; what is left is the form a value must have for the
program that receives it (a unit name systemd accepts, an address Flower can bind, a
node name Celery parses) and the rules between a role's own inputs. A role's preflight
passes its variables, by name, to its filter and fails with every message it returns:

    names: "{{ q('ansible.builtin.varnames', '^flower_') }}"
    problems: "{{ dict(names | zip(q('ansible.builtin.vars', *names))) | celery_stack.deploy.flower_problems }}"

Every message names the variable and the form expected; none carries a secret (a
password is checked, never printed).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from ansible_collections.celery_stack.deploy.plugins.module_utils.listeners import broker_listeners
from ansible_collections.celery_stack.deploy.plugins.module_utils.shapes import app_users

DOCUMENTATION = """
name: flower_problems
short_description: what is wrong with a role's inputs
description:
  - Takes a mapping of one role's variables (rabbitmq_problems, celery_app_problems,
    celery_worker_problems, celery_beat_problems, flower_problems, pki_problems); returns a list of messages, empty
    when the inputs are good.
options:
  _input:
    description: The role's variables by name.
    type: dict
    required: true
"""

UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.-]+$")
ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
QUEUE = re.compile(r"^[^\s,]+$")


def is_address(value) -> bool:
    """An IPv4 or IPv6 address a service can bind (names are not: they may resolve to
    several addresses, or none at boot)."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def hidden(url: str) -> str:
    """A URL fit for a message: whatever stands before its last @ (a user and password,
    which may hold / and @ themselves) shown as ***."""
    if "@" not in url:
        return url
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url)
    return (scheme.group(0) if scheme else "") + "***@" + url.rsplit("@", 1)[1]


def is_ipv4(value) -> bool:
    """An IPv4 address (the Erlang distribution listens on these only)."""
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return False
    return True


def number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def unit_problems(v: dict, prefix: str) -> list[str]:
    """A service's unit name, stop timeout and restart delay (the worker's and beat's)."""
    found = []
    name = f"{prefix}service_name"
    if not UNIT_NAME.match(str(v[name])):
        found.append(f"{name} must be a unit name (letters, digits, : _ . -), got '{v[name]}'")
    stop, restart = f"{prefix}stop_timeout", f"{prefix}restart_sec"
    if stop in v and (number(v[stop]) or 0) < 1:
        found.append(f"{stop} must be a positive number of seconds, got {v[stop]}")
    if restart in v and (number(v[restart]) or 0) < 0:
        found.append(f"{restart} must be 0 or more seconds, got {v[restart]}")
    after = f"{prefix}after_units"
    if after in v:
        units = v[after]
        if not isinstance(units, (list, tuple)) or any(not UNIT_NAME.match(str(u)) or "." not in str(u) for u in units):
            found.append(f"{after} must be a list of unit names with their type (rabbitmq-server.service), got {units}")
    return found


def celery_worker_problems(v: dict) -> list[str]:
    found = unit_problems(v, "celery_worker_")
    if (number(v["celery_worker_concurrency"]) or 0) < 1:
        found.append(f"celery_worker_concurrency must be a positive number of pool processes or threads, "
                     f"got {v['celery_worker_concurrency']}")
    node = str(v["celery_worker_node_name"])
    if not re.match(r"^[^\s@]+@[^\s@]+$", node):
        found.append(f"celery_worker_node_name must look like NAME@HOST (Celery's %h allowed), got '{node}'")
    queues = list(v["celery_worker_queues"])
    if any(not QUEUE.match(str(q)) for q in queues):
        found.append(f"celery_worker_queues must be queue names without spaces or commas, got {queues}")
    instances = list(v["celery_worker_instances"])
    names = [i.get("name") for i in instances]
    if any(not re.match(r"^[A-Za-z0-9_.-]+$", str(n)) for n in names):
        found.append("celery_worker_instances: each name must be letters, digits, _ . - (it names the unit "
                     f"celery-worker@NAME and the node NAME@host), got {names}")
    default_node = node.split("@")[0]
    if len(set(names)) != len(names) or default_node in names:
        found.append(f"celery_worker_instances: each name must be unique and differ from the name of "
                     f"celery_worker_node_name ('{default_node}', the default worker's node), got {names}")
    instance_queues = [i.get("queues") for i in instances]
    if any(not q for q in instance_queues) or any(not QUEUE.match(str(q)) for qs in instance_queues for q in qs or []):
        found.append("celery_worker_instances: each instance needs queues, a list of queue names without spaces "
                     f"or commas, got {[q if q else 'none' for q in instance_queues]}")
    for bound in ("celery_worker_memory_high", "celery_worker_memory_max"):
        if not re.match(r"^(|infinity|[0-9]+(\.[0-9]+)?[KMGT]?|[0-9]+(\.[0-9]+)?%)$", str(v[bound])):
            found.append(f"{bound} must be a size systemd takes (bytes, or with K, M, G or T: 512M, 2G; a share of "
                         f"the host's memory: 75%; infinity), or empty for none, got '{v[bound]}'")
    concurrencies = [i["concurrency"] for i in instances if "concurrency" in i]
    if any((number(c) or 0) < 1 for c in concurrencies):
        found.append("celery_worker_instances: concurrency must be a positive number of pool processes or threads, "
                     f"got {[i.get('concurrency', 'unset') for i in instances]}")
    return found


def celery_beat_problems(v: dict) -> list[str]:
    found = unit_problems(v, "celery_beat_")
    fleet = list(v["celery_beat_fleet"])
    if v["celery_beat_host"] not in ("", None) and v["celery_beat_host"] not in fleet:
        found.append(f"celery_beat_host must be one of the app's hosts (celery_beat_fleet: {', '.join(fleet)}), "
                     f"or empty for no beat, got '{v['celery_beat_host']}'")
    owned = [a for a in v["celery_beat_extra_args"] if re.match(r"^--?(s|schedule|pidfile|l|loglevel)(=|$)", str(a))]
    if owned:
        found.append("celery_beat_extra_args must not set --schedule, --pidfile or --loglevel (the role sets them), "
                     f"got {list(v['celery_beat_extra_args'])}")
    return found


def flower_problems(v: dict) -> list[str]:
    found = []
    users = list(v["flower_basic_auth"])
    if not users:
        found.append("flower_basic_auth must list at least one user as {username: NAME, password: SECRET}, "
                     "the password from ansible-vault or a lookup")
    if any(not re.match(r"^[^:,\s]+$", str(u.get("username", ""))) for u in users):
        found.append("flower_basic_auth[].username must be a name without ':', ',' or spaces")
    # Flower splits FLOWER_BASIC_AUTH at commas; every other character works.
    if any(not re.match(r"^[^,\n]+$", str(u.get("password") or "")) for u in users):
        found.append("flower_basic_auth[].password must be non-empty, on one line and without ',' "
                     "(Flower splits its user list at commas)")
    port = number(v["flower_port"])
    if port is None or not 1 <= port <= 65535:
        found.append(f"flower_port must be a port number from 1 to 65535, got {v['flower_port']}")
    if not is_address(v["flower_address"]):
        found.append(f"flower_address must be an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::, "
                     f"got '{v['flower_address']}'")
    if (number(v["flower_max_tasks"]) or 0) < 1:
        found.append(f"flower_max_tasks must be a positive number, got {v['flower_max_tasks']}")
    if not re.match(r"^[A-Za-z0-9._~/-]*$", str(v["flower_url_prefix"])):
        found.append(f"flower_url_prefix may hold letters, digits and . _ ~ / - only, got '{v['flower_url_prefix']}'")
    found += unit_problems(v, "flower_")

    user, group = str(v["flower_user"]), str(v["flower_group"])
    if not (ACCOUNT.match(user) and ACCOUNT.match(group)) or "root" in (user, group):
        found.append("flower_user and flower_group must be system account names other than root (lower-case "
                     f"letters, digits, _ and -), got '{user}:{group}'")
    if user == v["flower_app_user"]:
        found.append(f"flower_user must not be the app's account '{v['flower_app_user']}': the worker runs as it "
                     "and would read Flower's passwords (and the role would move that account into flower_group); "
                     "keep Flower's own account (default flower)")
    if group == v["flower_app_group"]:
        found.append(f"flower_group must not be the app's group '{v['flower_app_group']}': the worker runs in that "
                     "group and would read Flower's passwords; keep Flower's own group (default flower)")

    api_url = str(v["flower_broker_api_url"] or "")
    api_user, api_password = str(v["flower_broker_api_user"] or ""), str(v.get("flower_broker_api_password") or "")
    # No @ anywhere: a password with a / in it would otherwise pass as a path.
    if api_url and not re.match(r"^https?://[^@/\s]+/[^@\s]*$", api_url):
        found.append("flower_broker_api_url must be an http(s) URL without credentials (flower_broker_api_user and "
                     "flower_broker_api_password hold them), such as http://127.0.0.1:15672/api/, or empty; "
                     f"got '{hidden(api_url)}'")
    if api_url and not (api_user and api_password):
        found.append("flower_broker_api_user and flower_broker_api_password must be set when flower_broker_api_url is")
    ca_file = str(v["flower_broker_api_ca_file"] or "")
    if ca_file and not ca_file.startswith("/"):
        found.append(f"flower_broker_api_ca_file must be an absolute path on the Flower host, or empty; got '{ca_file}'")
    # They go into the URL as written (the role's vars/main.yml says why): nothing that
    # ends or splits it.
    if not re.match(r"^[^/?#%@:\s\[\]]*$", api_user):
        found.append(f"flower_broker_api_user must not contain / ? # % @ : [ ] or white space, got '{api_user}'")
    if not re.match(r"^[^/?#%\s\[\]]*$", api_password):
        found.append("flower_broker_api_password must not contain / ? # % [ ] or white space: Flower passes the "
                     "management API URL's password to its HTTP client without decoding it, so these cannot be "
                     "written into that URL (give the monitoring user another password)")
    return found


def pki_problems(v: dict) -> list[str]:
    found = []
    if not str(v["pki_dir"]).startswith("/"):
        found.append(f"pki_dir must be an absolute path on the controller, got '{v['pki_dir']}'")
    ca_days, host_days = number(v["pki_ca_days"]), number(v["pki_host_days"])
    if not (ca_days and host_days and 1 <= host_days <= ca_days):
        found.append("pki_ca_days and pki_host_days must be positive numbers of days, a host's no longer than the "
                     f"CA's, got {v['pki_ca_days']} and {v['pki_host_days']}")
    names = list(v["pki_host_names"]) + list(v["pki_extra_names"])
    bad = [n for n in names if not re.match(r"^[A-Za-z0-9*][A-Za-z0-9.:*-]*$", str(n))]
    if bad:
        found.append(f"pki_host_names and pki_extra_names must be host names or IP addresses, got {bad}")
    install_dir = str(v["pki_install_dir"] or "")
    if install_dir and not (install_dir.startswith("/") and v["pki_host_certificate"]):
        found.append("pki_install_dir must be an absolute path on the host, for a host with a certificate of its "
                     f"own (pki_host_certificate), or empty; got '{install_dir}'")
    # Certificates of your own must be there before anything uses them.
    if not v["pki_generate"]:
        for name in ["pki_ca_file"] + (["pki_cert_file", "pki_key_file"] if v["pki_host_certificate"] else []):
            if not Path(str(v[name] or "")).is_file():
                found.append(f"{name} names {v[name]}, which is not a file on the controller (pki_generate is false)")
    return found


ACCOUNT_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SOURCES = ["celery_app_src_path", "celery_app_wheel", "celery_app_pip_requirement", "celery_app_git_url"]


def celery_app_problems(v: dict, owned_env: dict, bundled_src: str, inventory_hosts) -> list[str]:
    """The app's rules. owned_env: the environment variables the deployment writes, by the
    role variable each comes from; bundled_src: the bundled app's source directory (used
    when no source is set); inventory_hosts: every host of the inventory."""
    found = []
    name = str(v["celery_app_name"])
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", name):
        found.append(f"celery_app_name must be a dotted Python module name such as test_celery or myproject.celery, got '{name}'")
    for var, what in (("celery_app_user", "account"), ("celery_app_group", "group")):
        value = str(v[var])
        if not ACCOUNT_NAME.match(value) or value == "root":
            found.append(f"{var} must be a system {what} name other than root (a-z, 0-9, _ or -), got '{value}'")
    paths = ["celery_app_home", "celery_app_venv", "celery_app_config_dir", "celery_app_env_file"]
    if any(not str(v[p]).startswith("/") for p in paths):
        found.append("celery_app_home, celery_app_venv, celery_app_config_dir and celery_app_env_file must be absolute paths")

    environment = dict(v["celery_app_environment"])
    keys = list(environment)
    if any(not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(k)) for k in keys):
        found.append("celery_app_environment keys must be environment variable names (letters, digits, _; "
                     f"not starting with a digit), got {keys}")
    # systemd reads one variable per line: a line break would cut the value and start a
    # line it ignores or misreads.
    broken = [k for k, value in environment.items() if re.search(r"[\r\n]", str(value))]
    if broken:
        found.append(f"celery_app_environment values must be on one line (no line break), but {broken} hold one")
    taken = [k for k in owned_env if k in environment]
    if taken:
        found.append(f"celery_app_environment must not set {', '.join(taken)}: the deployment writes them from "
                     f"{', '.join(owned_env[k] for k in taken)}; set that instead")
    queue = str(v["celery_app_default_queue"])
    if not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", queue) or queue.startswith("amq."):
        found.append("celery_app_default_queue must be a queue name of letters, digits, _ . : or -, not starting "
                     f"with amq. (RabbitMQ keeps those), got '{queue}'")
    dead = str(v["celery_app_dead_letter_queue"])
    if not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", dead) or dead.startswith("amq.") or dead == queue:
        found.append("celery_app_dead_letter_queue must be a queue name of letters, digits, _ . : or -, not starting "
                     f"with amq. and not the default queue ('{queue}'), got '{dead}'")
    if (number(v["celery_app_delivery_limit"]) or 0) < 1:
        found.append("celery_app_delivery_limit must be a positive number of deliveries (past it a task goes to "
                     f"celery_app_dead_letter_queue), got {v['celery_app_delivery_limit']}")
    if (number(v["celery_app_prefetch_multiplier"]) or 0) < 0:
        found.append("celery_app_prefetch_multiplier must be 0 (no limit) or more tasks per worker process, "
                     f"got {v['celery_app_prefetch_multiplier']}")
    hard, soft = number(v["celery_app_task_time_limit"]), number(v["celery_app_task_soft_time_limit"])
    if (hard or 0) < 1:
        found.append("celery_app_task_time_limit must be a positive number of seconds (a task running longer is "
                     f"ended; without it, the broker's consumer_timeout hands it to another worker), got {v['celery_app_task_time_limit']}")
    if (soft or 0) < 0 or (soft and hard and soft >= hard):
        found.append("celery_app_task_soft_time_limit must be 0 (none) or a number of seconds below "
                     f"celery_app_task_time_limit ({v['celery_app_task_time_limit']}), got {v['celery_app_task_soft_time_limit']}")
    for bound, what in (("celery_app_max_tasks_per_child", "tasks"), ("celery_app_max_memory_per_child", "KiB")):
        if (number(v[bound]) or 0) < 0:
            found.append(f"{bound} must be 0 (no bound) or a number of {what}, got {v[bound]}")

    chosen = [s for s in SOURCES if v.get(s)]
    if len(chosen) > 1:
        found.append("Set at most one of celery_app_src_path, celery_app_wheel, celery_app_pip_requirement and "
                     f"celery_app_git_url (none installs the bundled app); set: {', '.join(chosen)}")
    kind = chosen[0] if chosen else "celery_app_src_path"
    if kind == "celery_app_src_path":
        # What pip needs to build a project: one of the two files (setup.cfg alone is not enough).
        src = Path(str(v["celery_app_src_path"] or bundled_src))
        if not ((src / "pyproject.toml").is_file() or (src / "setup.py").is_file()):
            found.append("celery_app_src_path must be a directory on the controller that pip can install, holding "
                         f"pyproject.toml or setup.py, got '{src}'{'' if src.is_dir() else ' (not a directory there)'}")
    if kind == "celery_app_wheel":
        wheel = str(v["celery_app_wheel"])
        if not (wheel.endswith(".whl") and Path(wheel).is_file()):
            found.append(f"celery_app_wheel must be a .whl file on the controller, got '{wheel}'")

    url = str(v["celery_app_broker_url"] or "")
    tls = bool(v["celery_app_broker_tls"])
    port = number(v["celery_app_broker_port"])
    if port is None or not 1 <= port <= 65535:
        found.append(f"celery_app_broker_port must be a port number from 1 to 65535, got {v['celery_app_broker_port']}")
    hosts = list(v["celery_app_broker_hosts"] or [])
    if not url and not hosts:
        found.append("celery_app_broker_hosts is empty: put a host in the inventory's 'rabbitmq' group, list broker "
                     "hosts in celery_app_broker_hosts, or set celery_app_broker_url (amqp://USER:PASSWORD@HOST:PORT/VHOST)")
    if not url and not v["celery_app_broker_user"]:
        found.append("celery_app_broker_user must name the app's broker user (or set celery_app_broker_url)")
    if not url and not v.get("celery_app_broker_password"):
        found.append("celery_app_broker_password is not set: give it from ansible-vault or a lookup (it has no "
                     "default), or set celery_app_broker_url")
    if tls and not v["celery_app_broker_ca_file"]:
        found.append("celery_app_broker_tls is on, so celery_app_broker_ca_file must name the CA certificate (PEM, "
                     "on the controller) the brokers' certificates are signed by")
    if not tls and re.search(r"(^|;)amqps://", url):
        found.append("celery_app_broker_url uses amqps://, so set celery_app_broker_tls: true and "
                     "celery_app_broker_ca_file (the app would otherwise not know which CA to check the broker against)")
    if tls and re.search(r"(^|;)amqp://", url):
        found.append("celery_app_broker_tls is on, but celery_app_broker_url uses plain amqp://: write amqps:// URLs")
    if url and not re.match(r"^(amqps?|redis|rediss|sqs)://", url):
        found.append("celery_app_broker_url must start with amqp://, amqps://, redis://, rediss:// or sqs://")
    if (number(v["celery_app_keep_releases"]) or 0) < 1:
        found.append(f"celery_app_keep_releases must be 1 or more releases to keep, got {v['celery_app_keep_releases']}")
    backend = str(v["celery_app_result_backend"])
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", backend):
        # A result backend URL may hold a password: never in the message.
        found.append("celery_app_result_backend must be a URL with a scheme, such as rpc://, redis://HOST:6379/0 or "
                     f"db+postgresql://HOST/DB, got '{hidden(backend)}'")
    permissions = dict(v["celery_app_broker_permissions"])
    if any(not str(value or "") for value in permissions.values()):
        found.append('celery_app_broker_permissions configure, write and read must be regular expressions '
                     '("^$" grants nothing), not empty')
    unknown = [h for h in hosts if h not in list(inventory_hosts)]
    if unknown:
        found.append(f"celery_app_broker_hosts must name inventory hosts, got unknown {unknown}")
    return found


NODE_NAME = re.compile(r"^[A-Za-z0-9_-]+@[A-Za-z0-9][A-Za-z0-9-]*$")
COOKIE = re.compile(r"^[A-Za-z0-9]{20,255}$")


def present(entries) -> list[dict]:
    return [e for e in entries if e.get("state", "present") == "present"]


def rabbitmq_problems(v: dict, cluster_nodes: list, cookies: list, inventory_hosts, this_host: str) -> list[str]:
    """The broker's rules. cluster_nodes: name and address of every node of the cluster,
    as each host declares them (the role's __rabbitmq_cluster_nodes); cookies: the Erlang
    cookie of each host of the cluster (compared, never printed); inventory_hosts: every
    host of the inventory; this_host: the broker being checked."""
    found = []
    plugins = list(v["rabbitmq_plugins"])
    ports = broker_listeners(v.get)
    taken: dict[int, str] = {}
    for name, value in ports.items():
        port = number(value)
        if port is None or not 1 <= port <= 65535:
            found.append(f"{name} must be a port number from 1 to 65535, got {value}")
        elif port in taken:
            found.append(f"{name} must differ from {taken[port]}, both are {value}")
        else:
            taken[port] = name

    if not is_address(v["rabbitmq_amqp_address"]):
        found.append(f"rabbitmq_amqp_address must be an IPv4 or IPv6 address such as 0.0.0.0 or ::, got '{v['rabbitmq_amqp_address']}'")
    if not is_address(v["rabbitmq_management_address"]):
        found.append("rabbitmq_management_address must be an IPv4 or IPv6 address such as 127.0.0.1, "
                     f"got '{v['rabbitmq_management_address']}'")
    if "rabbitmq_prometheus" in plugins and not is_address(v["rabbitmq_prometheus_address"]):
        found.append(f"rabbitmq_prometheus_address must be an IPv4 or IPv6 address, got '{v['rabbitmq_prometheus_address']}'")
    if not v["rabbitmq_amqp_plain"] and not v["rabbitmq_tls"]:
        found.append("rabbitmq_amqp_plain is false and rabbitmq_tls is false: the broker would serve no AMQP at all; "
                     "switch one on")
    if v["rabbitmq_tls"]:
        missing = [name for name in ("rabbitmq_tls_ca_file", "rabbitmq_tls_cert_file", "rabbitmq_tls_key_file")
                   if not v.get(name)]
        if missing:
            found.append(f"rabbitmq_tls is on, so {', '.join(missing)} must name PEM files on the controller "
                         "(the pki role makes them; see playbooks/vars/wiring.yml)")
    accounts = list(v.get("rabbitmq_app_accounts") or [])
    if any(not a.get("password") for a in accounts):
        found.append("celery_app_broker_password is not set: give it from ansible-vault or a lookup (it has no "
                     "default); the app's broker account "
                     f"{[a.get('user') for a in accounts if not a.get('password')]} needs it")
    for timeout in ("rabbitmq_startup_timeout", "rabbitmq_quorum_wait_timeout"):
        if (number(v[timeout]) or 0) < 1:
            found.append(f"{timeout} must be a positive number of seconds, got {v[timeout]}")
    if (number(v["rabbitmq_consumer_timeout"]) or 0) < 1:
        found.append("rabbitmq_consumer_timeout must be a positive number of milliseconds (RabbitMQ's default: 1800000, "
                     f"30 minutes), got {v['rabbitmq_consumer_timeout']}")
    if "consumer_timeout" in dict(v["rabbitmq_config_extra"]):
        found.append("rabbitmq_config_extra must not set consumer_timeout: set rabbitmq_consumer_timeout (the "
                     "preflight checks it against the apps' time limits)")

    vhosts = list(v["rabbitmq_vhosts"])
    users = list(v["rabbitmq_users"])
    own_names = [u.get("name") for u in users]
    # The apps' accounts in the shape of rabbitmq_users, as the role declares them.
    apps = app_users(accounts)
    declared = users + [u for u in apps if u["name"] not in own_names]
    vhost_names = [str(h.get("name", "")) for h in vhosts]
    if any(not re.match(r"^\S+$", n) for n in vhost_names):
        found.append(f"rabbitmq_vhosts[].name must be a non-empty name without spaces, got {vhost_names}")
    user_names = [str(u.get("name") or "") for u in declared]
    if any(not re.match(r"^\S+$", n) for n in user_names):
        found.append("rabbitmq_users[].name and rabbitmq_app_accounts[].user must be non-empty names without spaces, "
                     f"got {user_names}")
    without = [u.get("name") for u in present(users) if not u.get("password")]
    if without:
        found.append(f"rabbitmq_users entries {without} have no password: set rabbitmq_users[].password (from "
                     "ansible-vault or a lookup), or state: absent to delete the user.")
    # "/" always exists; the others must be declared before a user can be given rights there.
    known = ["/"] + [h.get("name") for h in present(vhosts)] + [a.get("vhost") for a in accounts]
    for user in users:
        for permission in user.get("permissions") or []:
            if permission.get("vhost") not in known:
                found.append(f"rabbitmq_users entry '{user.get('name')}' has a permission on vhost "
                             f"'{permission.get('vhost')}', which is not in rabbitmq_vhosts: add "
                             f"{{name: {permission.get('vhost')}}} to rabbitmq_vhosts.")
    # An entry of rabbitmq_users for an app's user must say exactly what the app's account
    # says, or the two would take turns on the broker. What differs is named, never a value.
    conflicts = []
    for app in apps:
        wanted = app["permissions"][0]
        for own in (u for u in users if u.get("name") == app["name"]):
            granted = next((p for p in own.get("permissions") or [] if p.get("vhost") == wanted["vhost"]), {})
            differs = []
            if own.get("state", "present") != "present":
                differs.append("state")
            if (own.get("password") or "") != (app["password"] or ""):
                differs.append("password")
            if sorted(own.get("tags") or []) != sorted(app["tags"]):
                differs.append("tags")
            if [granted.get(k, "^$") for k in ("configure", "write", "read")] != [wanted[k] for k in ("configure", "write", "read")]:
                differs.append(f"permissions on {wanted['vhost']}")
            if differs:
                conflicts.append(f"rabbitmq_users entry '{own.get('name')}' differs from the app's broker account in "
                                 f"{', '.join(differs)}")
    if conflicts:
        found.append("; ".join(conflicts) + ". The app's broker account is declared from celery_app_broker_user, "
                     "celery_app_broker_password, celery_app_broker_vhost, celery_app_broker_tags and "
                     "celery_app_broker_permissions: remove that entry from rabbitmq_users, or make it say the same.")

    cluster = list(v["rabbitmq_cluster_hosts"])
    if any(h not in list(inventory_hosts) for h in cluster) or this_host not in cluster:
        found.append(f"rabbitmq_cluster_hosts must list inventory hosts, this one ({this_host}) among them; got {cluster}")
    cookie = v.get("rabbitmq_erlang_cookie")
    if not COOKIE.match(str(cookie or "")):
        found.append("rabbitmq_erlang_cookie must be 20 to 255 letters and digits, the same on every broker, from "
                     "ansible-vault (e.g. openssl rand -hex 32); it is "
                     + ("not set" if cookie is None else "not of that form"))
    if len({str(c or "") for c in cookies}) > 1:
        found.append(f"rabbitmq_erlang_cookie must be the same on every host of rabbitmq_cluster_hosts {cluster}; it differs")
    names = [n.get("name") for n in cluster_nodes]
    if any(not NODE_NAME.match(str(n)) for n in names):
        found.append(f"rabbitmq_node_name must be NAME@SHORTHOST (letters, digits, - and _; a host name without dots), got {names}")
    if len(set(names)) != len(names):
        found.append(f"rabbitmq_node_name must differ on every broker of the cluster, got {names}")
    addresses = [str(n.get("address")) for n in cluster_nodes]
    if any(not is_ipv4(a) for a in addresses):
        found.append(f"rabbitmq_cluster_address must be an IPv4 address, got {addresses}")
    elif len(addresses) > 1 and any(a.startswith(("127.", "0.")) for a in addresses):
        found.append("rabbitmq_cluster_address must be an address the other brokers reach (not loopback nor 0.0.0.0) "
                     f"when the cluster has several nodes, got {addresses}")
    if len(set(addresses)) != len(addresses):
        found.append(f"rabbitmq_cluster_address must differ on every broker, got {addresses}")
    dist = number(v["rabbitmq_dist_port"])
    if dist is None or not 1024 <= dist <= 65535 or dist in [number(p) for p in ports.values()] + [4369]:
        found.append(f"rabbitmq_dist_port must be a port from 1024 to 65535 other than 4369 (epmd) and "
                     f"{', '.join(ports)}, got {v['rabbitmq_dist_port']}")
    return found


class FilterModule:
    def filters(self):
        return {
            "celery_worker_problems": celery_worker_problems,
            "celery_beat_problems": celery_beat_problems,
            "flower_problems": flower_problems,
            "pki_problems": pki_problems,
            "celery_app_problems": celery_app_problems,
            "rabbitmq_problems": rabbitmq_problems,
        }
