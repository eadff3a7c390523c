"""Figure 7: quorum queues against classic queues, throughput and round-trip latency.

RabbitMQ refuses to declare an existing queue or exchange again with another type
(PRECONDITION_FAILED), and the deployed worker owns the app's queue: so each side has a
queue of its own, named through CELERY_TASK_DEFAULT_QUEUE, and a worker started by hand
(the deployed command line, as in figure 1) with the same variables as the driver. Each
run drains BENCH_TASKS no-op tasks (as figure 1), then times BENCH_ROUNDTRIPS round
trips (as figure 2) on the same fresh worker. The queues and their exchanges are deleted
when the demo is put back; the celery_delayed_* queues a quorum worker declares for
delayed delivery belong to the app's normal operation and stay.
"""

from functools import partial

import report
from demo import Demo, alternate
from host import BenchError, say

QUEUES = {"quorum": "bench-quorum", "classic": "bench-classic"}
PERCENTILES = ("p50", "p99")


def measure(demo: Demo, cfg) -> dict[str, dict]:
    sides = {}
    for queue_type, queue in QUEUES.items():
        env = [f"CELERY_TASK_DEFAULT_QUEUE={demo.own_queue(queue)}",
               f"CELERY_TASK_DEFAULT_QUEUE_TYPE={queue_type}"]
        worker = demo.by_hand(queue_type, overrides=env)
        sides[queue_type] = partial(drain_and_round_trips, demo, cfg, worker, env, queue_type)
    say(f"queue types: {cfg.tasks} no-op tasks, then {cfg.roundtrips} round trips a run, "
        f"{cfg.pairs} rounds of {' '.join(sides)}")
    return {QUEUE_TYPES.key: result(alternate(cfg.pairs, sides, describe))}


def drain_and_round_trips(demo: Demo, cfg, worker, env: list[str], queue_type: str) -> dict:
    with demo.running(worker, env) as info:
        drain = demo.drain(cfg.tasks, env)
        # What the app made of its environment: a side that did not get its queue type
        # would measure the other side twice.
        if drain["queue_type"] != queue_type:
            raise BenchError(f"the {queue_type} side drained a {drain['queue_type']} queue")
        latency = demo.latency(cfg.roundtrips, cfg.warmup, env)
    return {"drain": drain, "latency": latency, "worker": info}


def describe(run: dict) -> str:
    return (f"{run['drain']['tasks_per_s']:>9,.0f} tasks/s  "
            + "  ".join(f"{p} {run['latency'][p]:.2f} ms" for p in PERCENTILES))


def result(runs: dict[str, list[dict]]) -> dict:
    a, b = (runs[side] for side in QUEUE_TYPES.sides)
    return {
        "queues": QUEUES,
        "throughput": {"unit": "tasks/s", **report.compare(
            [r["drain"]["tasks_per_s"] for r in a], [r["drain"]["tasks_per_s"] for r in b],
            QUEUE_TYPES.sides)},
        "latency": {"unit": "ms", **report.compare_latency(
            [r["latency"] for r in a], [r["latency"] for r in b], QUEUE_TYPES.sides,
            PERCENTILES)},
        "target": None, "pass": None,
        "runs": runs,
    }


def rows(fig: dict) -> list[report.Row]:
    return [report.comparison_row("tasks/s", fig["throughput"], report.rate),
            *(report.latency_row(p, fig["latency"], QUEUE_TYPES.sides) for p in PERCENTILES)]


QUEUE_TYPES = report.Figure("7", "7_queue_types", "7", "queue type, drain and round trip",
                            tuple(QUEUES), rows)
