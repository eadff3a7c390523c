"""Move the workers off a broker node before it stops, and back to work after.

A worker whose connection closes while it runs a task cannot acknowledge it: the broker
hands the task to another worker and it runs twice. So before a planned stop of a node,
the workers connected to it stop consuming (Celery's cancel_consumer: they take no new
task and run the ones they hold), and the node stops only once they hold none; they
then reconnect to another node, and consume again (add_consumer) once it is back.

Run by the app's Python, as the app's account with its environment file:

    worker_drain.py APP pause BROKER_NAME[,BROKER_NAME...] [--within SECONDS]
        prints {"paused": {NODE: [QUEUE, ...]}, "busy": [NODE, ...]} as JSON: the workers
        connected to a broker of one of those names (a worker on the broker's own host,
        connected over loopback, counts when its node name ends with @ the first name's
        short form), and those still running tasks when SECONDS were up
    worker_drain.py APP resume JSON
        the output of pause: each of those workers consumes its queues again
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from celery.app.utils import find_app

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def connected_to(stats: dict, names: list[str]) -> list[str]:
    """The worker nodes whose broker connection goes to one of `names`; a worker that
    reached its broker over loopback runs on that broker's host, named by the first name."""
    short = names[0].split(".")[0]
    found = []
    for node, reply in sorted(stats.items()):
        host = str((reply.get("broker") or {}).get("hostname") or "")
        if host in names or (host in LOOPBACK and node.split("@", 1)[-1].split(".")[0] == short):
            found.append(node)
    return found


def holding(active: dict | None, reserved: dict | None, nodes: list[str]) -> list[str]:
    """The nodes among `nodes` that still hold a task, running or reserved (a node that did
    not answer counts as holding, so that nothing is stopped under it unseen)."""
    active, reserved = active or {}, reserved or {}
    return [node for node in nodes
            if node not in active or node not in reserved or active[node] or reserved[node]]


def pause(app, names: list[str], within: float, timeout: float = 2.0) -> dict:
    inspect = app.control.inspect(timeout=timeout)
    nodes = connected_to(inspect.stats() or {}, names)
    if not nodes:
        return {"paused": {}, "busy": []}
    queues = app.control.inspect(destination=nodes, timeout=timeout).active_queues() or {}
    paused = {node: [queue for queue in queues.get(node, [])] for node in nodes}
    for node, declared in paused.items():
        for queue in declared:
            app.control.cancel_consumer(queue["name"], destination=[node], reply=True, timeout=timeout)
    deadline = time.monotonic() + within
    while True:
        watch = app.control.inspect(destination=nodes, timeout=timeout)
        busy = holding(watch.active(), watch.reserved(), nodes)
        if not busy or time.monotonic() >= deadline:
            return {"paused": paused, "busy": busy}
        time.sleep(1)


def resume(app, paused: dict, timeout: float = 2.0) -> list[str]:
    """add_consumer for every queue each node consumed before; the nodes that answered."""
    answered = []
    for node, declared in paused.items():
        ok = True
        for queue in declared:
            exchange = queue.get("exchange") or {}
            replies = app.control.add_consumer(
                queue["name"], exchange=exchange.get("name") or None, exchange_type=exchange.get("type") or None,
                routing_key=queue.get("routing_key") or None, options={"queue_arguments": queue.get("queue_arguments")},
                destination=[node], reply=True, timeout=timeout) or []
            ok = ok and any(node in reply for reply in replies)
        if ok:
            answered.append(node)
    return answered


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worker_drain.py")
    parser.add_argument("app")
    sub = parser.add_subparsers(dest="command", required=True)
    paused = sub.add_parser("pause")
    paused.add_argument("broker")
    paused.add_argument("--within", type=float, default=600.0)
    resumed = sub.add_parser("resume")
    resumed.add_argument("paused")
    args = parser.parse_args(argv)
    app = find_app(args.app)
    if args.command == "pause":
        print(json.dumps(pause(app, [n for n in args.broker.split(",") if n], args.within)))
        return 0
    wanted = json.loads(args.paused).get("paused", {})
    # A worker that was restarting may need a moment to answer again; ask a few times.
    deadline = time.monotonic() + 60
    answered = resume(app, wanted)
    while set(answered) != set(wanted) and time.monotonic() < deadline:
        time.sleep(2)
        answered = resume(app, {node: wanted[node] for node in wanted if node not in answered}) + answered
    missing = sorted(set(wanted) - set(answered))
    print(json.dumps({"resumed": sorted(answered), "missing": missing}))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
