"""The options every module of this collection that runs RabbitMQ's CLI takes
(plugins/module_utils/rabbitmq_cli.py, CLI_OPTIONS), documented once."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  bindir:
    description: Where RabbitMQ's own CLI tools are (not Debian's shell wrappers).
    type: path
    default: /usr/lib/rabbitmq/bin
  run_as:
    description: Account the CLI runs as (it needs that account's Erlang cookie).
    type: str
    default: rabbitmq
  home:
    description: Home directory of that account, where the Erlang cookie is.
    type: path
    default: /var/lib/rabbitmq
  timeout:
    description: Seconds one CLI call may take.
    type: int
    default: 30
"""
