#!/usr/bin/python
"""Declare a RabbitMQ node's vhosts, users (password, tags, permissions), policies, and the
exchanges, queues and bindings the role owns (the apps' dead-letter queues) in one import
of definitions, without putting a password on any command line.

Why not community.rabbitmq's modules: each of them asks the node again for every object
and changes it with one more rabbitmqctl per setting, and every rabbitmqctl starts an Erlang
VM (about half a second of CPU): a new broker's vhost, two users with their tags and
permissions, their passwords and a policy took some twenty of them. And
community.rabbitmq.rabbitmq_user passes the password as an argument of rabbitmqctl, which
Debian's /usr/sbin/rabbitmqctl, run as root, re-joins into a `su -c` shell command: `$`,
backticks and `$(...)` in a password are then expanded by sh, and the password is in the
process list while the command runs (the CLI's standard input trims white space).

This module reads the node's definitions once (`rabbitmqctl export_definitions -`), compares
them with the wanted objects (passwords against the stored salted hashes, locally), and when
something differs imports only what differs with `rabbitmqctl import_definitions FILE`, then
reads again until the node holds it (an import is applied asynchronously). The file is
private (0600, the rabbitmq user's, in its home), holds salted hashes and never a password,
and is removed right after (RabbitMQ 4.0's import_definitions never returns when it reads
standard input). An import adds and replaces, it never removes: the role leaves removals
(vhosts, users and policies with state absent, permissions on other vhosts, topic
permissions) to community.rabbitmq's modules, which it calls only for those
(plugins/filter/broker.py decides). The CLI is run as plugins/module_utils/rabbitmq_cli.py
describes, so no shell ever sees an argument.
"""

import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_cli import CLI_OPTIONS, Cli
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_objects import (NOTHING, permissions_found, policy_entry, tags,
                                                                                     topology_differences, wanted_permissions)
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_passwords import DEFAULT_HASHING, HASHES, matches, salted_hash

DOCUMENTATION = r"""
module: rabbitmq_declare
short_description: Declare RabbitMQ vhosts, users, policies, exchanges, queues and bindings in one import, no password on a command line
description:
  - Reads the node's definitions once and imports, in one C(rabbitmqctl import_definitions),
    the vhosts that are missing, the users whose password, tags or permissions differ, and
    the policies that differ, and the exchanges, queues and bindings that are missing. Only
    salted hashes of the passwords leave the module, through a private file that is removed
    at once.
  - Never removes anything; a user's permissions on vhosts not listed, and its topic
    permissions, are left as they are.
  - Fails, before importing anything, when an exchange or queue exists with another type
    than the one asked for (RabbitMQ refuses to declare it again).
  - C(timeout) also bounds the wait until the import has taken effect.
options:
  vhosts:
    description: Names of vhosts that must exist.
    type: list
    elements: str
    default: []
  users:
    description: Users that must exist as given; each one's password is in O(passwords).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      tags:
        description: The user's tags, compared as a set.
        type: list
        elements: str
        default: []
      permissions:
        description: Patterns per vhost; a user given none gets C(^$) on the default vhost.
        type: list
        elements: dict
        default: []
        suboptions:
          vhost:
            description: The vhost.
            type: str
            required: true
          configure:
            description: Resources the user may configure.
            type: str
            default: "^$"
          write:
            description: Resources the user may write to.
            type: str
            default: "^$"
          read:
            description: Resources the user may read from.
            type: str
            default: "^$"
  passwords:
    description: >-
      The users' passwords (any characters) by user name. A parameter of its own, so that
      the module's log of its arguments (the journal) and its output show none of them.
    type: dict
    default: {}
  policies:
    description: Policies that must exist as given.
    type: list
    elements: dict
    default: []
    suboptions:
      vhost:
        description: The vhost.
        type: str
        default: /
      name:
        description: Policy name.
        type: str
        required: true
      pattern:
        description: Regular expression of the names it applies to.
        type: str
        required: true
      apply_to:
        description: queues, exchanges or all.
        type: str
        default: all
      definition:
        description: The policy's keys and values.
        type: dict
        required: true
      priority:
        description: Priority among the policies that match.
        type: int
        default: 0
  exchanges:
    description: Durable exchanges that must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      vhost:
        description: The vhost.
        type: str
        default: /
      name:
        description: Exchange name.
        type: str
        required: true
      type:
        description: direct, fanout, topic or headers.
        type: str
        default: direct
  queues:
    description: Durable queues that must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      vhost:
        description: The vhost.
        type: str
        default: /
      name:
        description: Queue name.
        type: str
        required: true
      type:
        description: quorum or classic.
        type: str
        default: quorum
  bindings:
    description: Bindings of an exchange to a queue that must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      vhost:
        description: The vhost.
        type: str
        default: /
      source:
        description: The exchange.
        type: str
        required: true
      destination:
        description: The queue.
        type: str
        required: true
      routing_key:
        description: The binding key.
        type: str
        default: ""
extends_documentation_fragment: [celery_stack.deploy.rabbitmq_cli]
"""

EXAMPLES = r"""
- name: Declare the app's vhost and user
  rabbitmq_declare:
    vhosts: [orders]
    users:
      - name: orders
        tags: []
        permissions: [{vhost: orders, configure: ".*", write: ".*", read: ".*"}]
    passwords: {orders: "{{ vault_broker_password }}"}
"""

RETURN = r"""
declared:
  description: What the import held (names only), by kind.
  type: dict
  returned: always
"""

def differences(definitions: dict, vhosts: list, users: list, passwords: dict, policies: list,
                exchanges=(), queues=(), bindings=()) -> dict:
    """What the node lacks of the wanted objects: vhost names, user names, policy keys, and
    the entries of the exchanges, queues and bindings to import. An exchange or queue of
    another type raises ValueError."""
    have_vhosts = {vhost["name"] for vhost in definitions.get("vhosts", [])}
    found_users = {user["name"]: user for user in definitions.get("users", [])}
    found_permissions = permissions_found(definitions.get("permissions", []))
    found_policies = {(policy["vhost"], policy["name"]): policy_entry({**policy, "apply_to": policy.get("apply-to")})
                      for policy in definitions.get("policies", [])}
    users_differing = []
    for user in users:
        found = found_users.get(user["name"])
        if (found is None or not matches(found, passwords.get(user["name"]))
                or tags(found.get("tags")) != tags(user.get("tags"))
                or any(found_permissions.get((user["name"], vhost)) != wanted
                       for vhost, wanted in wanted_permissions(user).items())):
            users_differing.append(user["name"])
    topology = topology_differences(definitions, list(exchanges), list(queues), list(bindings))
    if topology["conflicts"]:
        raise ValueError("; ".join(topology["conflicts"]) + ": RabbitMQ refuses to declare it again with another type")
    return {
        "vhosts": [name for name in vhosts if name not in have_vhosts],
        "users": users_differing,
        "policies": [[entry["vhost"], entry["name"]] for entry in map(policy_entry, policies)
                     if found_policies.get((entry["vhost"], entry["name"])) != entry],
        "exchanges": topology["exchanges"],
        "queues": topology["queues"],
        "bindings": topology["bindings"],
    }


def document(definitions: dict, vhosts: list, users: list, passwords: dict, policies: list, differ: dict,
             exchanges=(), queues=(), bindings=()) -> dict:
    """The definitions to import for what differs. A user's password keeps its stored hash
    when it matches (no new salt, so a second run changes nothing), and the user keeps its
    hashing algorithm and limits; a changed password gets a new salted hash."""
    found_users = {user["name"]: user for user in definitions.get("users", [])}
    imported = {"vhosts": [{"name": name} for name in differ["vhosts"]], "users": [], "permissions": [], "policies": []}
    for user in users:
        if user["name"] not in differ["users"]:
            continue
        found = found_users.get(user["name"]) or {}
        algorithm = found.get("hashing_algorithm") or DEFAULT_HASHING
        if found and matches(found, passwords.get(user["name"])):
            password_hash = found["password_hash"]
        elif algorithm not in HASHES:
            raise ValueError("user %s is hashed with %s; only %s can be set" % (user["name"], algorithm, ", ".join(sorted(HASHES))))
        else:
            password_hash = salted_hash(algorithm, passwords[user["name"]])
        imported["users"].append({"name": user["name"], "password_hash": password_hash, "hashing_algorithm": algorithm,
                                  "tags": tags(user.get("tags")), "limits": found.get("limits") or {}})
        for vhost, wanted in wanted_permissions(user).items():
            imported["permissions"].append({"user": user["name"], "vhost": vhost, **wanted})
    keys = {tuple(key) for key in differ["policies"]}
    imported["policies"] = [entry for entry in map(policy_entry, policies) if (entry["vhost"], entry["name"]) in keys]
    for kind in ("exchanges", "queues", "bindings"):
        if differ.get(kind):
            imported[kind] = differ[kind]
    return imported


def export(cli) -> dict:
    return json.loads(cli.run("rabbitmqctl", "export_definitions", "-", "--format", "json"))


def import_definitions(cli, imported: dict):
    """Import definitions from a private file the CLI's account can read."""
    fd, path = tempfile.mkstemp(prefix=".import-", suffix=".json", dir=cli.module.params["home"])
    try:
        if cli.owner is not None:
            os.fchown(fd, cli.owner.pw_uid, cli.owner.pw_gid)
        with os.fdopen(fd, "w") as f:
            json.dump(imported, f)
        cli.run("rabbitmqctl", "import_definitions", "--format", "json", path)
    finally:
        os.unlink(path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vhosts=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                tags=dict(type="list", elements="str", default=[]),
                permissions=dict(type="list", elements="dict", default=[], options=dict(
                    vhost=dict(type="str", required=True),
                    configure=dict(type="str", default=NOTHING),
                    write=dict(type="str", default=NOTHING),
                    read=dict(type="str", default=NOTHING),
                )),
            )),
            passwords=dict(type="dict", default={}, no_log=True),
            policies=dict(type="list", elements="dict", default=[], options=dict(
                vhost=dict(type="str", default="/"),
                name=dict(type="str", required=True),
                pattern=dict(type="str", required=True),
                apply_to=dict(type="str", default="all"),
                definition=dict(type="dict", required=True),
                priority=dict(type="int", default=0),
            )),
            exchanges=dict(type="list", elements="dict", default=[], options=dict(
                vhost=dict(type="str", default="/"),
                name=dict(type="str", required=True),
                type=dict(type="str", default="direct", choices=["direct", "fanout", "topic", "headers"]),
            )),
            queues=dict(type="list", elements="dict", default=[], options=dict(
                vhost=dict(type="str", default="/"),
                name=dict(type="str", required=True),
                type=dict(type="str", default="quorum", choices=["quorum", "classic"]),
            )),
            bindings=dict(type="list", elements="dict", default=[], options=dict(
                vhost=dict(type="str", default="/"),
                source=dict(type="str", required=True),
                destination=dict(type="str", required=True),
                routing_key=dict(type="str", default=""),
            )),
            **CLI_OPTIONS,
        ),
        supports_check_mode=True,
    )
    wanted = {key: module.params[key] for key in ("vhosts", "users", "passwords", "policies", "exchanges", "queues", "bindings")}
    unknown = [user["name"] for user in wanted["users"] if user["name"] not in wanted["passwords"]]
    if unknown:
        module.fail_json(msg="no password given for user %s" % ", ".join(unknown))
    cli = Cli(module)
    definitions = export(cli)
    try:
        differ = differences(definitions, **wanted)
        if not any(differ.values()):
            module.exit_json(changed=False, declared=differ)
        if module.check_mode:
            module.exit_json(changed=True, declared=differ)
        imported = document(definitions, differ=differ, **wanted)
    except ValueError as error:
        module.fail_json(msg=str(error))
    import_definitions(cli, imported)

    deadline = time.monotonic() + module.params["timeout"]
    while any(differences(export(cli), **wanted).values()):
        if time.monotonic() > deadline:
            module.fail_json(msg="the import of %s did not take effect within %d s" % (json.dumps(differ), module.params["timeout"]))
        time.sleep(0.5)
    module.exit_json(changed=True, declared=differ)


if __name__ == "__main__":
    main()
