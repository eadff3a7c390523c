"""Figure 6: how fast one producer publishes, with publisher confirms and without.

The app publishes with confirms by default (CELERY_BROKER_CONFIRM_PUBLISH): every
delay() then waits for the broker's ack. The driver calls noop.delay() BENCH_TASKS times
with the variable true, then false, alternately. The tasks go to a queue of the bench's
own, of the deployed queue type, that nothing consumes: the deployed worker is stopped
and the app's queue is left alone. The driver checks that the queue holds the whole
batch, then empties it; the queue is deleted when the demo is put back.
"""

from functools import partial

import report
from demo import Demo, alternate
from host import BenchError, say

QUEUE = "bench-publish"
CONFIRM = {"confirms on": True, "confirms off": False}


def measure(demo: Demo, cfg) -> dict[str, dict]:
    queue = demo.own_queue(QUEUE)
    say(f"publish: {cfg.tasks} noop.delay() into {queue}, {cfg.pairs} rounds of "
        f"{' '.join(CONFIRM)}")
    runs = alternate(cfg.pairs, {side: partial(publish, demo, cfg.tasks, queue, confirm)
                                 for side, confirm in CONFIRM.items()}, describe)
    return {CONFIRMS.key: result(runs)}


def publish(demo: Demo, tasks: int, queue: str, confirm: bool) -> dict:
    run = demo.driver("publish", "--tasks", str(tasks), env=[
        f"CELERY_TASK_DEFAULT_QUEUE={queue}",
        f"CELERY_BROKER_CONFIRM_PUBLISH={str(confirm).lower()}"])
    # The driver says what the app made of its environment: a side that did not get its
    # setting would measure the other side twice.
    if run["confirm_publish"] is not confirm:
        raise BenchError(f"the producer ran with confirm_publish={run['confirm_publish']}, "
                         f"not {confirm}")
    return run


def describe(run: dict) -> str:
    return f"{run['tasks_per_s']:>9,.0f} tasks/s published ({run['queue_type']} queue)"


def result(runs: dict[str, list[dict]]) -> dict:
    rates = [[run["tasks_per_s"] for run in runs[side]] for side in CONFIRMS.sides]
    return {"unit": "tasks/s", "queue": QUEUE,
            **report.compare(*rates, CONFIRMS.sides), "runs": runs}


def rows(fig: dict) -> list[report.Row]:
    return [report.comparison_row("published tasks/s", fig, report.rate)]


CONFIRMS = report.Figure("6", "6_confirms", "6", "publish rate, one producer, delay()",
                         tuple(CONFIRM), rows)
