"""Packing jobs."""

import time

from celery import shared_task


@shared_task(name="shipyard.pack")
def pack(token: str, seconds: float = 0.0) -> str:
    """Pack one parcel; returns its token, which the worker's log line shows."""
    time.sleep(seconds)
    return token
