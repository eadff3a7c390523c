"""Lists the roles build from their inputs and the inventory, as filters with unit tests
(tests/test_shapes.py) instead of loops in the roles' vars/ files.

- rabbitmq_app_users: the apps' accounts in the shape of rabbitmq_users.
- rabbitmq_cluster_nodes: name and address of every node of a cluster, from each host's
  own variables and facts.
- celery_app_broker_urls: one broker URL per broker host, joined with ";" (Celery's
  failover syntax).
- celery_worker_nodes: every worker unit of a host with the node name it answers to.
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.celery_stack.deploy.plugins.module_utils.shapes import app_users

DOCUMENTATION = """
name: celery_worker_nodes
short_description: lists a role builds from its inputs
description:
  - rabbitmq_app_users, rabbitmq_cluster_nodes, celery_app_broker_urls and
    celery_worker_nodes; see the module's docstring for each.
options:
  _input:
    description: The list the shape is built from.
    type: list
    required: true
"""


def host_vars(hostvars, host: str):
    return hostvars[host] if host in hostvars else {}


def rabbitmq_cluster_nodes(hosts, all_hosts, hostvars) -> list[dict]:
    """Each host of the cluster that the inventory knows: its node name (rabbitmq_node_name,
    else Debian's rabbit@<short host name>) and cluster address (rabbitmq_cluster_address,
    else loopback for a single node, else the default route's address). The same rules as
    the role's defaults, which another host's role defaults cannot be read for."""
    hosts = list(hosts or [])
    nodes = []
    for host in hosts:
        if host not in all_hosts:
            continue
        own = host_vars(hostvars, host)
        facts = own.get("ansible_facts") or {}
        name = own.get("rabbitmq_node_name") or f"rabbit@{facts.get('hostname', '')}"
        address = own.get("rabbitmq_cluster_address")
        if address is None:
            address = "127.0.0.1" if len(hosts) == 1 else (facts.get("default_ipv4") or {}).get("address", "")
        nodes.append({"host": host, "name": name, "address": address})
    return nodes


def celery_app_broker_address(host, hostvars) -> str:
    """The address the app's URLs give broker `host` from another host: its
    celery_app_broker_address, ansible_host or inventory name (a broker's restart also
    finds the workers connected to it by this name)."""
    own = host_vars(hostvars, host)
    return own.get("celery_app_broker_address") or own.get("ansible_host") or host


def celery_app_broker_urls(hosts, me, hostvars, tls, userinfo, port, vhost) -> str:
    """amqp(s)://USERINFO@ADDRESS:PORT/VHOST for each broker host, joined with ";". A broker
    on this very host is reached over loopback, another at its celery_app_broker_address,
    ansible_host or inventory name. userinfo is already quoted; the vhost is quoted here
    ("/" as %2F)."""
    scheme = "amqps" if tls else "amqp"
    urls = []
    for host in hosts or []:
        address = "127.0.0.1" if host == me else celery_app_broker_address(host, hostvars)
        urls.append(f"{scheme}://{userinfo}@{address}:{port}/{quote(str(vhost), safe='')}")
    return ";".join(urls)


def celery_worker_nodes(instances, service_name, node_name) -> list[dict]:
    """The worker's unit and each instance's (SERVICE@NAME), the Celery node each answers a
    ping as (NAME@%h for an instance), and the two as the worker gate's argument UNIT=NODE
    (roles/celery_worker/files/worker_gate.py)."""
    pairs = [(service_name, node_name)]
    pairs += [(f"{service_name}@{i['name']}", f"{i['name']}@%h") for i in instances or []]
    return [{"unit": unit, "node": node, "gate_arg": f"{unit}={node}"} for unit, node in pairs]


class FilterModule:
    def filters(self):
        return {
            "rabbitmq_app_users": app_users,
            "rabbitmq_cluster_nodes": rabbitmq_cluster_nodes,
            "celery_app_broker_address": celery_app_broker_address,
            "celery_app_broker_urls": celery_app_broker_urls,
            "celery_worker_nodes": celery_worker_nodes,
        }
