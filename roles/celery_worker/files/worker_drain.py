"""Move the workers off a broker node before it stops, and back to work after.

A worker whose connection closes while it runs a task cannot acknowledge it: the broker
hands the task to another worker and it runs twice. So before a planned stop of a node,
the workers connected to it stop consuming (Celery's cancel_consumer: they take no new
task and run the ones they hold), and the node stops only once they hold none; they
then reconnect to another node, and consume again (add_consumer) once it is back.

Run by the app's Python, as the app's account with its environment file (the command
the celery_worker role installs, templates/worker_drain.j2, does that):

    worker_drain.py APP --state FILE [--within SECONDS] pause BROKER_NAME[,BROKER_NAME...]
        prints {"paused": {NODE: [QUEUE, ...]}, "busy": [NODE, ...]} as JSON: the workers
        connected to a broker of one of those names (a worker on the broker's own host,
        connected over loopback, counts when the host part of its node name has the short
        form of one of the names), and those still holding tasks when SECONDS were up
    worker_drain.py APP --state FILE resume
        each worker paused and not yet resumed consumes its queues again

FILE keeps the paused workers and their queues from the pause to the resume, written
before any consumer is cancelled: a restart that fails between the two leaves them
there, and the next resume (the next restart's, or the celery_worker role's converge)
wakes them. Prints {"resumed": [NODE, ...], "missing": [NODE, ...]}: a worker that does
not answer within a minute is missing, and forgotten (a worker that starts again consumes
its queues anyway).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time

from celery.app.utils import find_app

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def connected_to(stats: dict, names: list[str]) -> list[str]:
    """The worker nodes whose broker connection goes to one of `names`; a worker that
    reached its broker over loopback runs on that broker's host, which one of the names
    (its short form) calls."""
    shorts = {name.split(".")[0] for name in names if not is_address(name)}
    found = []
    for node, reply in sorted(stats.items()):
        host = str((reply.get("broker") or {}).get("hostname") or "")
        if host in names or (host in LOOPBACK and node.split("@", 1)[-1].split(".")[0] in shorts):
            found.append(node)
    return found


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def holding(active: dict | None, reserved: dict | None, nodes: list[str]) -> list[str]:
    """The nodes among `nodes` that still hold a task, running or reserved (a node that did
    not answer counts as holding, so that nothing is stopped under it unseen)."""
    active, reserved = active or {}, reserved or {}
    return [node for node in nodes
            if node not in active or node not in reserved or active[node] or reserved[node]]


# A worker that stops answering for this long is gone (stopped, crashed): not waited for.
SILENT = 30.0


def load(state: str) -> dict:
    try:
        with open(state) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(state: str, paused: dict) -> None:
    """Write the paused workers, or remove the file when none is left."""
    if not paused:
        if os.path.exists(state):
            os.unlink(state)
        return
    temporary = state + ".new"
    with open(temporary, "w") as f:
        json.dump(paused, f)
    os.replace(temporary, state)


def merged(kept: dict, found: dict) -> dict:
    """The queues of every worker in either: a worker paused by an unfinished restart
    consumes nothing now, so what it consumed before is kept."""
    result = {node: list(queues) for node, queues in kept.items()}
    for node, queues in found.items():
        names = {queue["name"] for queue in result.get(node, [])}
        result[node] = result.get(node, []) + [queue for queue in queues if queue["name"] not in names]
    return result


def pause(app, names: list[str], within: float, state: str, timeout: float = 5.0) -> dict:
    inspect = app.control.inspect(timeout=timeout)
    nodes = connected_to(inspect.stats() or {}, names)
    if not nodes:
        return {"paused": {}, "busy": []}
    queues = app.control.inspect(destination=nodes, timeout=timeout).active_queues() or {}
    paused = {node: list(queues.get(node, [])) for node in nodes}
    save(state, merged(load(state), paused))
    try:
        for node, declared in paused.items():
            for queue in declared:
                app.control.cancel_consumer(queue["name"], destination=[node], reply=True, timeout=timeout)
        return {"paused": paused, "busy": wait_idle(app, nodes, within, timeout)}
    except Exception as error:  # noqa: BLE001 - told, and the state file names them for resume
        return {"paused": paused, "busy": nodes, "error": f"{type(error).__name__}: {error}"}


def wait_idle(app, nodes: list[str], within: float, timeout: float) -> list[str]:
    """Wait until none of `nodes` holds a task, or `within` seconds; those still busy."""
    started = time.monotonic()
    heard = {node: started for node in nodes}
    while True:
        watch = app.control.inspect(destination=nodes, timeout=timeout)
        active, reserved = watch.active() or {}, watch.reserved() or {}
        now = time.monotonic()
        heard.update({node: now for node in nodes if node in active and node in reserved})
        waited = [node for node in nodes if now - heard[node] < SILENT]
        busy = holding(active, reserved, waited)
        if not busy or now - started >= within:
            return busy
        time.sleep(1)


def resume(app, paused: dict, timeout: float = 5.0) -> list[str]:
    """add_consumer for every queue each node consumed before; the nodes that answered."""
    answered = []
    for node, declared in paused.items():
        ok = True
        for queue in declared:
            exchange = queue.get("exchange") or {}
            replies = app.control.add_consumer(
                queue["name"], exchange=exchange.get("name") or None, exchange_type=exchange.get("type") or None,
                routing_key=queue.get("routing_key") or None,
                options={key: queue[key] for key in ("queue_arguments", "consumer_arguments") if queue.get(key)},
                destination=[node], reply=True, timeout=timeout) or []
            ok = ok and any(node in reply for reply in replies)
        if ok:
            answered.append(node)
    return answered


def resume_all(app, state: str, within: float = 60.0) -> dict:
    """Resume every worker the state file names; a worker that was restarting may need a
    moment to answer again, so it is asked again for up to `within` seconds."""
    wanted = load(state)
    deadline = time.monotonic() + within
    answered = resume(app, wanted)
    while set(answered) != set(wanted) and time.monotonic() < deadline:
        time.sleep(2)
        answered += resume(app, {node: wanted[node] for node in wanted if node not in answered})
    save(state, {node: queues for node, queues in load(state).items() if node not in wanted})
    return {"resumed": sorted(answered), "missing": sorted(set(wanted) - set(answered))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worker_drain.py")
    parser.add_argument("app")
    parser.add_argument("--state", required=True, help="the file that keeps the paused workers")
    parser.add_argument("--within", type=float, default=600.0,
                        help="seconds pause waits for the workers' tasks")
    sub = parser.add_subparsers(dest="command", required=True)
    paused = sub.add_parser("pause")
    paused.add_argument("broker")
    sub.add_parser("resume")
    args = parser.parse_args(argv)
    app = find_app(args.app)
    if args.command == "pause":
        print(json.dumps(pause(app, [n for n in args.broker.split(",") if n], args.within, args.state)))
        return 0
    print(json.dumps(resume_all(app, args.state)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
