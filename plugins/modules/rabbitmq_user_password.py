#!/usr/bin/python
"""Set a RabbitMQ user's password without putting it on any command line.

community.rabbitmq.rabbitmq_user passes the password as an argument of rabbitmqctl, and
Debian's /usr/sbin/rabbitmqctl, run as root, re-joins its arguments into a `su -c` shell
command: `$`, backticks and `$(...)` in a password are then expanded by sh, and the
password is visible in the process list while the command runs. The CLI can read a
password from standard input instead, but it trims white space from both ends.

This module therefore compares and sets the password through definitions: it reads the
user's salted hash from `rabbitmqctl export_definitions -`, checks the wanted password
against it locally, and when it differs imports a new salted hash with
`rabbitmqctl import_definitions FILE`. The file is private (0600, the rabbitmq user's,
in its home), holds the salted hash and never the password, and is removed right after.
(RabbitMQ 4.0's import_definitions never returns when it reads standard input.) The CLI is
run as plugins/module_utils/rabbitmq_cli.py describes, so no shell ever sees an argument. Tags and permissions are left to community.rabbitmq.rabbitmq_user.
"""

import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_cli import CLI_OPTIONS, Cli
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_passwords import DEFAULT_HASHING, HASHES, matches, salted_hash

DOCUMENTATION = r"""
module: rabbitmq_user_password
short_description: Set a RabbitMQ user's password with no shell and no command line involved
description:
  - Creates the user when it does not exist (no tags, no permissions) and sets its password
    when the stored salted hash does not match; only a salted hash of the password leaves
    the module, through a private file that is removed at once.
  - C(timeout) also bounds the wait until an import has taken effect.
options:
  name:
    description: User name.
    type: str
    required: true
  password:
    description: The password; any characters.
    type: str
    required: true
extends_documentation_fragment: [celery_stack.deploy.rabbitmq_cli]
"""

EXAMPLES = r"""
- name: Set the app's broker password
  rabbitmq_user_password:
    name: orders
    password: "{{ vault_broker_password }}"
  no_log: true
"""

RETURN = r"""
created:
  description: Whether the user was created.
  type: bool
  returned: always
"""

def users(cli):
    definitions = json.loads(cli.run("rabbitmqctl", "export_definitions", "-", "--format", "json"))
    return {user["name"]: user for user in definitions.get("users", [])}


def import_users(cli, users):
    """Import definitions from a private file the CLI's account can read."""
    fd, path = tempfile.mkstemp(prefix=".import-", suffix=".json", dir=cli.module.params["home"])
    try:
        if cli.owner is not None:
            os.fchown(fd, cli.owner.pw_uid, cli.owner.pw_gid)
        with os.fdopen(fd, "w") as f:
            json.dump({"users": users}, f)
        cli.run("rabbitmqctl", "import_definitions", "--format", "json", path)
    finally:
        os.unlink(path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            **CLI_OPTIONS,
        ),
        supports_check_mode=True,
    )
    name, password = module.params["name"], module.params["password"]
    cli = Cli(module)
    current = users(cli).get(name)
    if current is not None and matches(current, password):
        module.exit_json(changed=False, created=False)
    if module.check_mode:
        module.exit_json(changed=True, created=current is None)

    algorithm = (current or {}).get("hashing_algorithm") or DEFAULT_HASHING
    if algorithm not in HASHES:
        module.fail_json(msg="user %s is hashed with %s; only %s can be set" % (name, algorithm, ", ".join(sorted(HASHES))))
    wanted = salted_hash(algorithm, password)
    # An import replaces the user's tags and limits: keep what the user has.
    entry = {
        "name": name,
        "password_hash": wanted,
        "hashing_algorithm": algorithm,
        "tags": (current or {}).get("tags", []),
        "limits": (current or {}).get("limits", {}),
    }
    import_users(cli, [entry])

    # The import is applied asynchronously: wait until the node holds the new hash.
    deadline = time.monotonic() + module.params["timeout"]
    while (users(cli).get(name) or {}).get("password_hash") != wanted:
        if time.monotonic() > deadline:
            module.fail_json(msg="the new password of %s did not take effect within %d s" % (name, module.params["timeout"]))
        time.sleep(0.5)
    module.exit_json(changed=True, created=current is None)


if __name__ == "__main__":
    main()
