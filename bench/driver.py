"""The benchmark's hands inside the host: publish, time, and answer in JSON.

bench/bench.py copies this file and benchtasks.py to /opt/bench on the host and runs it
as the app's user with the deployed settings (EnvironmentFile=/etc/<app>/celery.env),
one sub-command per call; the last line of standard output is one JSON object.

    driver.py ping     --node celery@HOST            wait until that worker answers
    driver.py drain    --node celery@HOST --tasks N [--task noop|sleep10]
                                                     publish N tasks, then time their drain
    driver.py publish  --tasks N                     time N noop.delay() calls, no consumer
    driver.py latency  --count N --warmup W          N sequential add(1, 1) round trips
    driver.py events   on|off                        task events on or off in every worker
    driver.py http-ready --url URL                   wait until URL answers 200
    driver.py purge                                  drop leftover benchtasks.* messages
    driver.py delete   NAME...                       delete these queues and exchanges
    driver.py consuming --node celery@HOST           wait until that worker consumes the queue
    driver.py send     --task NAME --case C --tasks N --seconds S
                                                     send NAME(C-i, S) for i < N, by name
    driver.py steady   --task NAME --case C --every E
                                                     send NAME(C-i, 0) every E seconds until
                                                     SIGTERM, timing each publish

The queue is the app's default queue: `celery`, or CELERY_TASK_DEFAULT_QUEUE, which
bench.py sets (with the queue type and publisher confirms) for the figures that compare
the app's broker settings.

Only the standard library and what the app's virtualenv holds are used.
"""

import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

from celery_stack.app import app

import benchtasks

# The default queue: the deployed worker is started without --queues.
QUEUE = app.conf.task_default_queue
# What a drain's batch is made of, between its two stamps.
FILLERS = {"noop": benchtasks.noop, "sleep10": benchtasks.sleep10}
# How long one filler task runs, for the time a drain may take.
FILLER_SECONDS = {"noop": 0.0, "sleep10": 0.010}


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def fail(message: str, **fields) -> int:
    emit(ok=False, error=message, **fields)
    return 1


def ping_until(node: str, timeout: float) -> float | None:
    """Seconds until `node` answered a ping, or None when it did not within timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        replies = app.control.ping(destination=[node], timeout=0.5)
        if any(node in reply for reply in replies):
            return time.monotonic() - start
    return None


def queue_depth(conn) -> int:
    """Messages ready in the queue (not counting those delivered but not yet acked)."""
    _, count, _ = conn.default_channel.queue_declare(QUEUE, passive=True)
    return count


def accepted_total(node: str, task_name: str) -> int:
    """How many tasks of that name the worker has accepted since it started."""
    stats = app.control.inspect(destination=[node], timeout=2.0).stats() or {}
    return stats.get(node, {}).get("total", {}).get(task_name, 0)


def control_ok(replies, node: str) -> bool:
    return any(node in reply and "ok" in reply[node] for reply in replies or [])


def cmd_ping(args) -> int:
    """Wait for the worker, then report what it runs: pool, processes, prefetch, tasks."""
    waited = ping_until(args.node, args.timeout)
    if waited is None:
        return fail(f"{args.node} did not answer a ping within {args.timeout:.0f} s")
    inspect = app.control.inspect(destination=[args.node], timeout=2.0)
    registered = (inspect.registered() or {}).get(args.node, [])
    stats = (inspect.stats() or {}).get(args.node, {})
    pool = stats.get("pool", {})
    info = dict(node=args.node, waited_s=round(waited, 3),
                pool=pool.get("implementation", "").split(":")[0].rsplit(".", 1)[-1],
                concurrency=pool.get("max-concurrency"),
                prefetch_count=stats.get("prefetch_count"), pid=stats.get("pid"))
    missing = [t.name for t in (*FILLERS.values(), benchtasks.stamp, benchtasks.add)
               if t.name not in registered]
    if missing:
        return fail(f"{args.node} does not know {', '.join(missing)}: benchtasks not loaded",
                    **info)
    emit(ok=True, **info)
    return 0


def cmd_drain(args) -> int:
    """Publish first, then let the worker drain the queue, timed by the tasks themselves.

    The worker is running and idle. It stops consuming from the queue while the tasks are
    published and starts again once all are in, so the broker holds the whole batch
    before the first is delivered. The batch is stamp, N-2 fillers (noops, or tasks of
    10 ms), stamp: the two stamps return the time they ran (same host, same clock), and
    the N-1 tasks between the first stamp and the last are the drain. The broker delivers
    in order, so the last stamp runs at most a pool's width of tasks before the end; the
    worker's own count of accepted fillers checks that every task of the batch was
    consumed.
    """
    node, total, filler = args.node, args.tasks, FILLERS[args.task]
    if total < 3:
        return fail("--tasks must be at least 3")
    if ping_until(node, 30) is None:
        return fail(f"{node} does not answer")
    if not control_ok(app.control.cancel_consumer(QUEUE, destination=[node], reply=True,
                                                  timeout=5), node):
        return fail(f"{node} did not stop consuming from {QUEUE}")
    with app.connection_for_write() as conn:
        leftover = queue_depth(conn)
        if leftover:
            conn.default_channel.queue_purge(QUEUE)
    accepted_before = accepted_total(node, filler.name)

    t_publish = time.monotonic()
    first = benchtasks.stamp.apply_async()
    with app.producer_or_acquire() as producer:
        for _ in range(total - 2):
            filler.apply_async(producer=producer)
    last = benchtasks.stamp.apply_async()
    publish_s = time.monotonic() - t_publish
    with app.connection_for_write() as conn:
        queued = queue_depth(conn)

    t_resume = time.monotonic()
    if not control_ok(app.control.add_consumer(QUEUE, destination=[node], reply=True,
                                               timeout=5), node):
        return fail(f"{node} did not resume consuming from {QUEUE}")
    # Generous: a slow side must fail on its count, not on a timeout.
    wait = max(120.0, total / 200.0 + total * FILLER_SECONDS[args.task])
    ran_first = first.get(timeout=wait)
    ran_last = last.get(timeout=wait)
    wall_s = time.monotonic() - t_resume

    # Completeness: every filler of the batch was taken by this worker.
    deadline = time.monotonic() + 15
    accepted = accepted_total(node, filler.name) - accepted_before
    while accepted < total - 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        accepted = accepted_total(node, filler.name) - accepted_before
    with app.connection_for_write() as conn:
        remaining = queue_depth(conn)

    drain_s = ran_last - ran_first
    result = dict(
        node=node, queue=QUEUE, queue_type=app.conf.task_default_queue_type,
        task=filler.name, tasks=total, queued=queued, leftover_purged=leftover,
        publish_s=round(publish_s, 3), publish_per_s=round(total / publish_s, 1),
        drain_s=round(drain_s, 4),
        tasks_per_s=round((total - 1) / drain_s, 1) if drain_s > 0 else None,
        wall_s=round(wall_s, 3), accepted=accepted, remaining=remaining,
    )
    if accepted != total - 2 or remaining:
        return fail("the worker did not take the whole batch", **result)
    emit(ok=True, **result)
    return 0


def cmd_publish(args) -> int:
    """Time N noop.delay() calls of one producer; nothing consumes the queue.

    With publisher confirms each call waits for the broker's ack; without, it returns
    once the message is written to the socket. Either way the queue must hold the whole
    batch afterwards, or the rate would count tasks that never arrived.
    """
    with app.connection_for_write() as conn:
        # Declared and emptied first, so the batch alone is counted.
        app.amqp.queues[QUEUE](conn.default_channel).declare()
        conn.default_channel.queue_purge(QUEUE)
    start = time.perf_counter()
    for _ in range(args.tasks):
        benchtasks.noop.delay()
    publish_s = time.perf_counter() - start

    # Without confirms the last messages may still be on their way into the queue.
    deadline = time.monotonic() + 30
    with app.connection_for_write() as conn:
        queued = queue_depth(conn)
        while queued < args.tasks and time.monotonic() < deadline:
            time.sleep(0.2)
            queued = queue_depth(conn)
        conn.default_channel.queue_purge(QUEUE)
    result = dict(queue=QUEUE, queue_type=app.conf.task_default_queue_type,
                  tasks=args.tasks, queued=queued,
                  confirm_publish=app.conf.broker_transport_options.get("confirm_publish"),
                  publish_s=round(publish_s, 3), tasks_per_s=round(args.tasks / publish_s, 1))
    if queued != args.tasks:
        return fail("the queue does not hold the batch published", **result)
    emit(ok=True, **result)
    return 0


def cmd_latency(args) -> int:
    """Sequential add(1, 1) round trips through the rpc backend, after a warm-up."""
    for _ in range(args.warmup):
        benchtasks.add.delay(1, 1).get(timeout=30)
    samples = []
    for _ in range(args.count):
        start = time.perf_counter()
        value = benchtasks.add.delay(1, 1).get(timeout=30)
        samples.append((time.perf_counter() - start) * 1000.0)
        if value != 2:
            return fail(f"add(1, 1) returned {value!r}")
    emit(ok=True, count=args.count, warmup=args.warmup, samples_ms=[round(s, 4) for s in samples])
    return 0


def cmd_events(args) -> int:
    """Switch task events in every worker (what Flower does, every few seconds)."""
    if args.state == "on":
        replies = app.control.enable_events(reply=True, timeout=2.0)
    else:
        replies = app.control.disable_events(reply=True, timeout=2.0)
    emit(ok=bool(replies), state=args.state, replies=replies)
    return 0 if replies else 1


def cmd_purge(args) -> int:
    """Remove the benchmark's own tasks left in the queue (after an interrupted run).

    Other messages are left unacknowledged and go back to the queue when the connection
    closes, so only benchtasks.* are removed.
    """
    removed = kept = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for _ in range(queue_depth(conn)):
            message = channel.basic_get(QUEUE, no_ack=False)
            if message is None:
                break
            if str(message.headers.get("task", "")).startswith("benchtasks."):
                message.ack()
                removed += 1
            else:
                kept += 1
    emit(ok=True, removed=removed, kept=kept)
    return 0


def cmd_delete(args) -> int:
    """Delete queues the bench declared, and the exchange of each (Celery names a queue's
    exchange after it). Deleting what is already gone is no error in RabbitMQ."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for name in args.names:
            channel.queue_delete(name)
            channel.exchange_delete(name)
    emit(ok=True, deleted=args.names)
    return 0


def cmd_consuming(args) -> int:
    """Wait until `node` answers and consumes the app's queue (after a broker's restart
    its consumers may still be paused, or not yet back)."""
    start = time.monotonic()
    while time.monotonic() - start < args.timeout:
        queues = app.control.inspect(destination=[args.node], timeout=2.0).active_queues()
        if any(queue.get("name") == QUEUE for queue in (queues or {}).get(args.node, [])):
            emit(ok=True, node=args.node, queue=QUEUE,
                 waited_s=round(time.monotonic() - start, 3))
            return 0
        time.sleep(0.5)
    return fail(f"{args.node} did not consume {QUEUE} within {args.timeout:.0f} s")


def cmd_send(args) -> int:
    """Send the task, by name, as C-0 .. C-(N-1): a task that notes its runs under that
    token (the bundled app's record_run) tells which ran, and how often."""
    for i in range(args.tasks):
        app.send_task(args.task, args=(f"{args.case}-{i}", args.seconds), ignore_result=True)
    emit(ok=True, case=args.case, tasks=args.tasks, seconds=args.seconds)
    return 0


def cmd_steady(args) -> int:
    """Publish the task at a fixed rate until SIGTERM, each call timed.

    One task every `every` seconds, as C-0, C-1, ...; a call that took longer than that
    delays the next one, and the lost time is not made up in a burst. Each publish is
    recorded as [called, returned, ok], in seconds since `t0` (the epoch, this host's
    clock, which the controller shares); with publisher confirms a call returns once
    the broker has the task. A call that raised is recorded with ok 0, its error kept.
    A line "publishing" says when the first publish is about to be made.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)  # connected before the clock starts
        brokers = len(conn.alt) or 1  # the failover list's URLs
    t0 = time.time()
    records, errors = [], {}
    print("publishing", flush=True)
    next_at = time.monotonic()
    while not stop.is_set():
        called = time.time()
        try:
            app.send_task(args.task, args=(f"{args.case}-{len(records)}", 0),
                          ignore_result=True)
            ok = 1
        except Exception as error:  # noqa: BLE001 - a failed publish is a figure, not an end
            ok = 0
            errors[type(error).__name__] = str(error)[:300]
        records.append([round(called - t0, 4), round(time.time() - t0, 4), ok])
        next_at += args.every
        if next_at - time.monotonic() > 0:
            stop.wait(next_at - time.monotonic())
        else:
            next_at = time.monotonic()
    emit(ok=True, case=args.case, every=args.every, t0=t0, records=records,
         errors=errors, confirm_publish=app.conf.broker_transport_options.get(
             "confirm_publish"), brokers=brokers)
    return 0


def cmd_http_ready(args) -> int:
    start = time.monotonic()
    last_error = ""
    while time.monotonic() - start < args.timeout:
        try:
            with urllib.request.urlopen(args.url, timeout=2) as response:
                if response.status == 200:
                    emit(ok=True, url=args.url, waited_s=round(time.monotonic() - start, 3))
                    return 0
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.25)
    return fail(f"{args.url} did not answer within {args.timeout:.0f} s: {last_error}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    ping = commands.add_parser("ping")
    ping.add_argument("--node", required=True)
    ping.add_argument("--timeout", type=float, default=60.0)
    ping.set_defaults(run=cmd_ping)

    drain = commands.add_parser("drain")
    drain.add_argument("--node", required=True)
    drain.add_argument("--tasks", type=int, default=20000)
    drain.add_argument("--task", choices=sorted(FILLERS), default="noop")
    drain.set_defaults(run=cmd_drain)

    publish = commands.add_parser("publish")
    publish.add_argument("--tasks", type=int, default=20000)
    publish.set_defaults(run=cmd_publish)

    latency = commands.add_parser("latency")
    latency.add_argument("--count", type=int, default=1000)
    latency.add_argument("--warmup", type=int, default=100)
    latency.set_defaults(run=cmd_latency)

    events = commands.add_parser("events")
    events.add_argument("state", choices=["on", "off"])
    events.set_defaults(run=cmd_events)

    purge = commands.add_parser("purge")
    purge.set_defaults(run=cmd_purge)

    delete = commands.add_parser("delete")
    delete.add_argument("names", nargs="+")
    delete.set_defaults(run=cmd_delete)

    consuming = commands.add_parser("consuming")
    consuming.add_argument("--node", required=True)
    consuming.add_argument("--timeout", type=float, default=120.0)
    consuming.set_defaults(run=cmd_consuming)

    send = commands.add_parser("send")
    send.add_argument("--task", required=True)
    send.add_argument("--case", required=True)
    send.add_argument("--tasks", type=int, required=True)
    send.add_argument("--seconds", type=float, default=0.0)
    send.set_defaults(run=cmd_send)

    steady = commands.add_parser("steady")
    steady.add_argument("--task", required=True)
    steady.add_argument("--case", required=True)
    steady.add_argument("--every", type=float, default=0.05)
    steady.set_defaults(run=cmd_steady)

    http_ready = commands.add_parser("http-ready")
    http_ready.add_argument("--url", required=True)
    http_ready.add_argument("--timeout", type=float, default=60.0)
    http_ready.set_defaults(run=cmd_http_ready)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
