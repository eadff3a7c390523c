"""Tasks the benchmark sends through the deployed app.

The bundled test_celery app only has longtime_add, which sleeps; the benchmark needs
tasks that cost nothing, so that what it measures is Celery, the broker and the way the
worker is run, and one of a fixed, short length, to set those costs against work. The
worker loads this module with `--include=benchtasks` (given to it as the
CELERY_WORKER_INCLUDE environment variable, which Celery's command line reads).
"""

import time

from celery_stack.app import app


@app.task(name="benchtasks.noop", ignore_result=True)
def noop():
    """Do nothing: throughput is then the cost of moving a task, not of running it."""


@app.task(name="benchtasks.stamp")
def stamp():
    """Return when the task ran (seconds since the epoch, this host's clock)."""
    return time.time()


@app.task(name="benchtasks.add")
def add(x, y):
    """The classic round trip: add two numbers and send the sum back."""
    return x + y


@app.task(name="benchtasks.sleep10", ignore_result=True)
def sleep10():
    """Take 10 ms, as a small real task might: a per-task cost is then seen against work."""
    time.sleep(0.010)
