"""Read a RabbitMQ node's definitions once: vhosts, users, permissions, policies, queues,
exchanges and bindings.

community.rabbitmq's modules each ask the node again for every object they declare, and
every question starts the Erlang VM of a rabbitmqctl (about half a second each): an
unchanged broker with two users and a vhost cost about eight seconds of such calls per
converge. `rabbitmqctl export_definitions` answers all of it in one call; the role then
declares only the objects that differ (plugins/filter/broker.py decides which).

The users' salted password hashes never leave this module: the wanted passwords come in
(no_log) and each user is returned with `password_matches` instead of its hash. The CLI is
run as plugins/module_utils/rabbitmq_cli.py describes, so no shell sees an argument.
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_cli import CLI_OPTIONS, Cli
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_objects import binding_entry, queue_kind, tags
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_passwords import matches

DOCUMENTATION = r"""
module: rabbitmq_definitions_info
short_description: Read a RabbitMQ node's vhosts, users, permissions, policies and queues in one call
description:
  - Runs C(rabbitmqctl export_definitions) once and returns what it holds, without the
    users' password hashes; each user instead says whether a wanted password matches.
options:
  passwords:
    description: Wanted passwords by user name, checked against the stored salted hashes.
    type: dict
    default: {}
  required:
    description: >-
      Fail when the node does not answer. With false, such a node is returned as
      C(available: false) (a broker that is stopped, or not installed yet).
    type: bool
    default: true
extends_documentation_fragment: [celery_stack.deploy.rabbitmq_cli]
"""

EXAMPLES = r"""
- name: Read the broker's definitions
  rabbitmq_definitions_info:
    passwords: {orders: "{{ vault_broker_password }}"}
  register: broker
  no_log: true
"""

RETURN = r"""
available:
  description: Whether the node answered.
  type: bool
  returned: always
version:
  description: The node's RabbitMQ version (C(rabbitmq_version) of the definitions); empty when it did not answer.
  type: str
  returned: always
vhosts:
  description: Names of the vhosts.
  type: list
  returned: always
users:
  description: Each user by name, with C(tags) (a sorted list) and C(password_matches).
  type: dict
  returned: always
permissions:
  description: One entry per user and vhost (user, vhost, configure, write, read).
  type: list
  returned: always
topic_permissions:
  description: One entry per user, vhost and exchange.
  type: list
  returned: always
policies:
  description: Each policy (vhost, name, pattern, apply_to, definition, priority).
  type: list
  returned: always
queues:
  description: Each durable queue (vhost, name, type).
  type: list
  returned: always
exchanges:
  description: Each durable exchange (vhost, name, type).
  type: list
  returned: always
bindings:
  description: Each binding (vhost, source, destination, destination_type, routing_key, arguments).
  type: list
  returned: always
"""

def summary(definitions: dict, passwords: dict) -> dict:
    """What the role compares, and nothing of the hashes."""
    queues = [{"vhost": queue["vhost"], "name": queue["name"], "type": queue_kind(queue)}
              for queue in definitions.get("queues", [])]
    return {
        # The node's RabbitMQ version (what some declarations depend on).
        "version": str(definitions.get("rabbitmq_version") or definitions.get("rabbit_version") or ""),
        "vhosts": sorted(vhost["name"] for vhost in definitions.get("vhosts", [])),
        "users": {
            user["name"]: {"tags": tags(user.get("tags")), "password_matches": matches(user, passwords.get(user["name"]))}
            for user in definitions.get("users", [])
        },
        "permissions": [
            {key: entry.get(key, "") for key in ("user", "vhost", "configure", "write", "read")}
            for entry in definitions.get("permissions", [])
        ],
        "topic_permissions": [
            {key: entry.get(key, "") for key in ("user", "vhost", "exchange", "write", "read")}
            for entry in definitions.get("topic_permissions", [])
        ],
        "policies": [
            {"vhost": policy["vhost"], "name": policy["name"], "pattern": policy.get("pattern", ""),
             "apply_to": policy.get("apply-to", "all"), "definition": policy.get("definition", {}),
             "priority": int(policy.get("priority", 0))}
            for policy in definitions.get("policies", [])
        ],
        "queues": queues,
        "exchanges": [{"vhost": exchange["vhost"], "name": exchange["name"], "type": exchange.get("type")}
                      for exchange in definitions.get("exchanges", [])],
        "bindings": [binding_entry(binding) for binding in definitions.get("bindings", [])],
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            passwords=dict(type="dict", default={}, no_log=True),
            required=dict(type="bool", default=True),
            **CLI_OPTIONS,
        ),
        supports_check_mode=True,
    )
    cli = Cli(module)
    rc, out, err = cli.call("rabbitmqctl", "export_definitions", "-", "--format", "json")
    if rc != 0:
        if module.params["required"]:
            module.fail_json(msg="rabbitmqctl export_definitions failed (rc %d): %s" % (rc, (err or out).strip()))
        module.exit_json(changed=False, available=False, **summary({}, {}))
    try:
        definitions = json.loads(out)
    except ValueError as error:
        module.fail_json(msg="rabbitmqctl export_definitions printed no JSON: %s" % error)
    module.exit_json(changed=False, available=True, **summary(definitions, module.params["passwords"] or {}))


if __name__ == "__main__":
    main()
