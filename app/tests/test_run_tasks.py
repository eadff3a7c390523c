"""A real round trip: run_tasks sends through the broker to a worker and waits."""

import io

import pytest
from celery.contrib.testing.worker import start_worker

from test_celery import run_tasks
from test_celery.celery import app


@pytest.fixture
def worker():
    app.loader.import_module("celery.contrib.testing.tasks")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def test_run_tasks_prints_the_four_lines_in_order(worker):
    out = io.StringIO()
    assert run_tasks.main(["--timeout", "30"], out=out) == 0
    assert out.getvalue().splitlines() == [
        "Task finished? False",
        "Task result: None",
        "Task finished? True",
        "Task result: 3",
    ]


def test_run_tasks_fails_when_no_result_arrives_in_time():
    # No worker runs in this test, so the wait must give up and say so.
    out = io.StringIO()
    with pytest.raises(Exception, match="(?i)time"):
        run_tasks.main(["--timeout", "0.5"], out=out)
    assert out.getvalue().splitlines()[:2] == ["Task finished? False", "Task result: None"]
