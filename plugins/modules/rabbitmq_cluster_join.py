#!/usr/bin/python
"""Make this node a member of the cluster its peers form, by an explicit join.

RabbitMQ's own peer discovery (classic_config) only runs when a node boots for the
first time with an empty database, and Debian's package starts the node as soon as it
is installed, before any configuration: every node has a database of its own by the
time this role configures it. So the node joins explicitly (stop_app, reset,
join_cluster, start_app), which is also how a broker added later joins a running
cluster.

A reset deletes the node's own data. The module therefore only resets a node that is
not yet clustered with any peer and whose queues hold no message; otherwise it fails
and says why. No community.rabbitmq module joins a cluster.
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_cli import CLI_OPTIONS, Cli

DOCUMENTATION = r"""
module: rabbitmq_cluster_join
short_description: Join this RabbitMQ node to the cluster of its peers
description:
  - Does nothing when the node is already clustered with one of its peers.
  - Otherwise joins the first reachable peer that is itself clustered, else the first
    reachable peer listed before this node; the first node of a new cluster waits to be
    joined. Afterwards this node gets a member of every quorum queue (rabbitmq-queues grow).
options:
  node:
    description: This node's name, e.g. rabbit@mq2.
    type: str
    required: true
  nodes:
    description: Every node of the cluster, in the inventory's order (this one included).
    type: list
    elements: str
    required: true
  startup_timeout:
    description: Seconds to wait for the node to come back after the join.
    type: int
    default: 120
extends_documentation_fragment: [celery_stack.deploy.rabbitmq_cli]
"""

RETURN = r"""
joined:
  description: The peer this node joined, or "" when it did not join.
  type: str
  returned: always
members:
  description: The cluster's members as this node sees them at the end.
  type: list
  returned: always
"""


def members(status):
    return sorted(set(status.get("disk_nodes", []) + status.get("ram_nodes", [])))


def cluster_status(cli, node=None, check=True):
    """The cluster as `node` (this node by default) sees it; None when it does not answer."""
    target = ["-n", node] if node else []
    rc, out, err = cli.call("rabbitmqctl", *target, "cluster_status", "--formatter", "json", timeout=20)
    if rc != 0:
        if check:
            cli.module.fail_json(msg="rabbitmqctl cluster_status failed (rc %d): %s" % (rc, (err or out).strip()))
        return None
    return json.loads(out)


def queued_messages(cli):
    """Messages waiting in this node's queues, over every vhost."""
    total = 0
    for vhost in json.loads(cli.run("rabbitmqctl", "list_vhosts", "--formatter", "json", "name")):
        queues = json.loads(cli.run("rabbitmqctl", "list_queues", "-p", vhost["name"], "--formatter", "json", "name", "messages"))
        total += sum(queue.get("messages") or 0 for queue in queues)
    return total


def choose_peer(node, nodes, answers):
    """A peer already clustered, else one listed before this node; None for the first node."""
    clustered = [peer for peer in nodes if peer in answers and len(members(answers[peer])) > 1]
    earlier = [peer for peer in nodes[:nodes.index(node)] if peer in answers]
    return (clustered + earlier + [None])[0]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type="str", required=True),
            nodes=dict(type="list", elements="str", required=True),
            startup_timeout=dict(type="int", default=120),
            **CLI_OPTIONS,
        ),
        supports_check_mode=True,
    )
    node, nodes = module.params["node"], module.params["nodes"]
    if node not in nodes:
        module.fail_json(msg="%s is not one of the cluster's nodes %s" % (node, nodes))
    peers = [peer for peer in nodes if peer != node]
    cli = Cli(module)

    current = members(cluster_status(cli))
    strangers = [member for member in current if member not in nodes]
    if strangers:
        module.fail_json(msg="%s is clustered with %s, which are not in rabbitmq_cluster_hosts: "
                             "remove them with rabbitmqctl forget_cluster_node, or add their hosts to the group" % (node, strangers))
    if set(current) & set(peers):
        module.exit_json(changed=False, joined="", members=current)

    answers = {}
    for peer in peers:
        status = cluster_status(cli, peer, check=False)
        if status is not None:
            answers[peer] = status
    target = choose_peer(node, nodes, answers)
    if target is None:
        module.exit_json(changed=False, joined="", members=current)

    waiting = queued_messages(cli)
    if waiting:
        module.fail_json(msg="%s must join %s, which resets it, but its queues hold %d messages: consume or move "
                             "them first (a reset would delete them)" % (node, target, waiting))
    if module.check_mode:
        module.exit_json(changed=True, joined=target, members=current)

    for step in (["stop_app"], ["reset"], ["join_cluster", target], ["start_app"]):
        cli.run("rabbitmqctl", *step, timeout=module.params["startup_timeout"])
    cli.run("rabbitmqctl", "await_startup", "--timeout", str(module.params["startup_timeout"]),
            timeout=module.params["startup_timeout"] + 10)
    # Quorum queues declared before this node joined get a member here as well.
    cli.run("rabbitmq-queues", "grow", node, "all", timeout=module.params["startup_timeout"])
    module.exit_json(changed=True, joined=target, members=members(cluster_status(cli)))


if __name__ == "__main__":
    main()
