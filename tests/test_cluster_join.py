"""Which peer a broker joins (plugins/modules/rabbitmq_cluster_join.py)."""

from pathlib import Path

from support.plugins import load

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


load("ansible_collections.celery_stack.deploy.plugins.module_utils.rabbitmq_cli", PLUGINS / "module_utils" / "rabbitmq_cli.py")
join = load("rabbitmq_cluster_join", PLUGINS / "modules" / "rabbitmq_cluster_join.py")

NODES = ["rabbit@mq1", "rabbit@mq2", "rabbit@mq3"]


def alone(node):
    return {"disk_nodes": [node], "running_nodes": [node]}


def clustered(*nodes):
    return {"disk_nodes": list(nodes), "running_nodes": list(nodes)}


def test_the_first_node_of_a_new_cluster_waits_to_be_joined():
    assert join.choose_peer("rabbit@mq1", NODES, {}) is None


def test_the_second_node_joins_the_first_even_while_it_is_alone():
    assert join.choose_peer("rabbit@mq2", NODES, {"rabbit@mq1": alone("rabbit@mq1")}) == "rabbit@mq1"


def test_a_node_never_joins_a_lone_node_listed_after_it():
    # Both alone (say, a first run cut short): the later one joins the earlier, not both ways.
    assert join.choose_peer("rabbit@mq1", NODES, {"rabbit@mq2": alone("rabbit@mq2")}) is None


def test_a_node_added_first_in_the_list_joins_the_running_cluster():
    answers = {"rabbit@mq2": clustered("rabbit@mq2", "rabbit@mq3"), "rabbit@mq3": clustered("rabbit@mq2", "rabbit@mq3")}
    assert join.choose_peer("rabbit@mq1", NODES, answers) == "rabbit@mq2"


def test_a_clustered_peer_wins_over_an_earlier_lone_one():
    answers = {"rabbit@mq1": alone("rabbit@mq1"), "rabbit@mq3": clustered("rabbit@mq3", "rabbit@mq4")}
    assert join.choose_peer("rabbit@mq2", NODES + ["rabbit@mq4"], answers) == "rabbit@mq3"


def test_members_counts_disk_and_ram_nodes_once():
    assert join.members({"disk_nodes": ["b", "a"], "ram_nodes": ["a"]}) == ["a", "b"]
