"""The app's dead-letter queue, read and emptied as an operator would:

    python -m celery_stack.dead_letters list                show each dead task
    python -m celery_stack.dead_letters requeue [TASK_ID...]  send them back (all, or these)
    python -m celery_stack.dead_letters drop [TASK_ID...]     delete them (all, or these)

Run it on an app host as the app's account, with its environment file (README.md, "Poison
tasks"): the broker URL, TLS and confirms are the deployment's (celery_stack.app), and the
queue is CELERY_STACK_DEAD_LETTER_QUEUE.

The broker dead-letters a task whose deliveries keep coming back (past the queue's
delivery limit) into that one queue per vhost, whatever queue it came from; the
x-first-death-queue header says which. `requeue` publishes each task, body and headers
as they are, straight into that queue (the default exchange routes by queue name), waits
for the broker's confirm, and only then removes it from the dead-letter queue: a crash
half-way leaves a task in both queues, never in neither. RabbitMQ's shovel plugin moves
messages too, but into one queue for all of them, and on RabbitMQ 4.0 a shovel told to
move "the queue's length" moved nothing out of a quorum queue here.

Each command handles the tasks that were in the queue when it started, so a task that is
dead-lettered again while `requeue` runs is not sent round once more.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

from celery_stack.messages import republish

# The environment variable naming the queue (the celery_app role writes it).
QUEUE_VARIABLE = "CELERY_STACK_DEAD_LETTER_QUEUE"


def queue_name(env=os.environ) -> str:
    name = env.get(QUEUE_VARIABLE, "").strip()
    if not name:
        sys.exit(f"{QUEUE_VARIABLE} is not set: run this with the app's environment file")
    return name


def describe(message) -> dict:
    """What an operator needs to decide: the task, its id and arguments, where it came
    from and why it left."""
    headers = message.headers or {}
    return {
        "id": headers.get("id"),
        "task": headers.get("task"),
        "args": headers.get("argsrepr"),
        "kwargs": headers.get("kwargsrepr"),
        "queue": headers.get("x-first-death-queue"),
        "reason": headers.get("x-first-death-reason"),
    }


def origin(message) -> str | None:
    return (message.headers or {}).get("x-first-death-queue")


def take(channel, queue: str, count: int, handle: Callable) -> int:
    """Get up to `count` messages off `queue` one by one, unacknowledged, and pass each to
    `handle`, which acknowledges it or not; the others go back when the channel closes.
    How many `handle` acknowledged."""
    done = 0
    for _ in range(count):
        message = channel.basic_get(queue, no_ack=False)
        if message is None:
            break
        if handle(message):
            done += 1
    return done


def run(command: str, ids: list[str], connection, queue: str, out=sys.stdout) -> int:
    """Carry out one command on an open kombu connection; the number of tasks it handled."""
    channel = connection.channel()
    try:
        _, count, _ = channel.queue_declare(queue, passive=True)
        wanted = set(ids)

        def chosen(message) -> bool:
            return not wanted or (message.headers or {}).get("id") in wanted

        if command == "list":
            def show(message) -> bool:
                out.write(json.dumps(describe(message)) + "\n")
                return False
            take(channel, queue, count, show)
            return count

        if command == "drop":
            def drop(message) -> bool:
                if chosen(message):
                    channel.basic_ack(message.delivery_tag)
                    out.write(f"dropped {describe(message)['id']}\n")
                    return True
                return False
            return take(channel, queue, count, drop)

        if command == "requeue":
            producer = connection.Producer()  # the default exchange

            def send_back(message) -> bool:
                home = origin(message)
                if not chosen(message) or not home:
                    return False
                # Confirmed before it leaves the dead letters.
                republish(producer, message, home)
                channel.basic_ack(message.delivery_tag)
                out.write(f"requeued {describe(message)['id']} to {home}\n")
                return True
            return take(channel, queue, count, send_back)

        raise ValueError(f"unknown command {command!r}")
    finally:
        channel.close()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("list", "requeue", "drop"):
        sys.exit("usage: python -m celery_stack.dead_letters list | requeue [TASK_ID...] | drop [TASK_ID...]")
    from celery_stack.app import app

    queue = queue_name()
    with app.connection_for_write() as connection:
        handled = run(argv[0], argv[1:], connection, queue)
    print(f"{argv[0]}: {handled} task(s) in {queue}", file=sys.stderr)


if __name__ == "__main__":
    main()
