"""Tasks of the test_celery app."""

import os
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
