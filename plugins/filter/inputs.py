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

DOCUMENTATION = """
name: flower_problems
short_description: what is wrong with a role's inputs
description:
  - Takes a mapping of one role's variables (celery_worker_problems, celery_beat_problems,
    flower_problems, pki_problems); returns a list of messages, empty when the inputs are good.
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


def number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def celery_worker_problems(v: dict) -> list[str]:
    found = []
    if not UNIT_NAME.match(str(v["celery_worker_service_name"])):
        found.append(f"celery_worker_service_name must be a unit name (letters, digits, : _ . -), "
                     f"got '{v['celery_worker_service_name']}'")
    if (number(v["celery_worker_concurrency"]) or 0) < 1:
        found.append(f"celery_worker_concurrency must be a positive number of pool processes or threads, "
                     f"got {v['celery_worker_concurrency']}")
    if (number(v["celery_worker_stop_timeout"]) or 0) < 1:
        found.append(f"celery_worker_stop_timeout must be a positive number of seconds, got {v['celery_worker_stop_timeout']}")
    if (number(v["celery_worker_restart_sec"]) or 0) < 0:
        found.append(f"celery_worker_restart_sec must be 0 or more seconds, got {v['celery_worker_restart_sec']}")
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
    concurrencies = [i["concurrency"] for i in instances if "concurrency" in i]
    if any((number(c) or 0) < 1 for c in concurrencies):
        found.append("celery_worker_instances: concurrency must be a positive number of pool processes or threads, "
                     f"got {[i.get('concurrency', 'unset') for i in instances]}")
    return found


def celery_beat_problems(v: dict) -> list[str]:
    found = []
    if not UNIT_NAME.match(str(v["celery_beat_service_name"])):
        found.append(f"celery_beat_service_name must be a unit name (letters, digits, : _ . -), "
                     f"got '{v['celery_beat_service_name']}'")
    fleet = list(v["celery_beat_fleet"])
    if v["celery_beat_host"] not in ("", None) and v["celery_beat_host"] not in fleet:
        found.append(f"celery_beat_host must be one of the app's hosts (celery_beat_fleet: {', '.join(fleet)}), "
                     f"or empty for no beat, got '{v['celery_beat_host']}'")
    if (number(v["celery_beat_stop_timeout"]) or 0) < 1:
        found.append(f"celery_beat_stop_timeout must be a positive number of seconds, got {v['celery_beat_stop_timeout']}")
    if (number(v["celery_beat_restart_sec"]) or 0) < 0:
        found.append(f"celery_beat_restart_sec must be 0 or more seconds, got {v['celery_beat_restart_sec']}")
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
    if not UNIT_NAME.match(str(v["flower_service_name"])):
        found.append(f"flower_service_name must be a unit name (letters, digits, : _ . -), got '{v['flower_service_name']}'")

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
        # Credentials in it stay out of the message: everything from the scheme to the
        # last @ (a password may hold / and @ too).
        shown = re.sub(r"^([A-Za-z]+://).*@", r"\1***@", api_url, flags=re.S)
        found.append("flower_broker_api_url must be an http(s) URL without credentials (flower_broker_api_user and "
                     "flower_broker_api_password hold them), such as http://127.0.0.1:15672/api/, or empty; "
                     f"got '{shown}'")
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


class FilterModule:
    def filters(self):
        return {
            "celery_worker_problems": celery_worker_problems,
            "celery_beat_problems": celery_beat_problems,
            "flower_problems": flower_problems,
            "pki_problems": pki_problems,
        }
