"""Tasks of the test_celery app."""

import os
import socket
import time

from .celery import app


def longtime_seconds() -> float:
    """How long longtime_add sleeps: LONGTIME_ADD_SECONDS, 5 by default."""
    value = os.environ.get("LONGTIME_ADD_SECONDS", "").strip()
    seconds = float(value) if value else 5.0
    if seconds < 0:
        raise ValueError(f"LONGTIME_ADD_SECONDS must not be negative, got {value!r}")
    return seconds


@app.task
def longtime_add(x, y):
    """Add two numbers, slowly, the way a real job takes its time."""
    time.sleep(longtime_seconds())
    return x + y


def _note(line: str) -> None:
    """Append one line to TEST_CELERY_RECORD_DIR/runs.log, if that is set."""
    directory = os.environ.get("TEST_CELERY_RECORD_DIR", "").strip()
    if not directory:
        return
    # One write() on an O_APPEND descriptor: lines of concurrent pool processes never mix.
    fd = os.open(os.path.join(directory, "runs.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.task(bind=True)
def record_run(self, token: str, seconds: float = 2.0) -> str:
    """Take a few seconds, noting each start (with the time, the task id and whether the
    broker delivered it before) and finish: how the fault tests count tasks that were lost
    or that ran twice, or that started early. A task that ran twice shows which way: the
    broker delivered one message again (redelivered 1), or it was published twice (both
    starts redelivered 0, one id)."""
    redelivered = int(bool((self.request.delivery_info or {}).get("redelivered")))
    _note(f"start {token} {os.getpid()} {time.time():.3f} {self.request.id} {redelivered}")
    time.sleep(seconds)
    _note(f"done {token} {os.getpid()}")
    return token


@app.task
def record_crash(token: str) -> None:
    """Note the start, then take the worker process down with the task, as a crash in a C
    extension or the kernel's out-of-memory killer would: the fault tests' poison task,
    which never completes and must end in the dead-letter queue."""
    _note(f"start {token} {os.getpid()}")
    os._exit(1)


@app.task(bind=True)
def heartbeat(self) -> str:
    """The periodic task celery beat sends (test_celery.celery.beat_schedule): one line in
    the worker's log naming the worker node that took it (NAME@host)."""
    return f"heartbeat from {self.request.hostname or socket.gethostname()}"
