"""Packing jobs."""

import logging
import os
import time

from celery import shared_task


@shared_task(name="shipyard.pack")
def pack(token: str, seconds: float = 0.0) -> str:
    """Pack one parcel; returns its token, which the worker's log line shows."""
    time.sleep(seconds)
    return token


# What a leaking task does: every call keeps its buffer for the life of the process.
_KEPT = []


@shared_task(name="shipyard.hoard")
def hoard(token: str, mib: int) -> str:
    """Keep mib MiB more for good (a byte written on every page, so all of it is resident)."""
    kept = bytearray(mib * 1024 * 1024)
    kept[::4096] = b"\x01" * (len(kept) // 4096)
    _KEPT.append(kept)
    return token


@shared_task(name="shipyard.capsize")
def capsize(token: str, _unused=None) -> str:
    """A poison task: it takes its worker process down every time, as a crash in a C
    extension would, so it never completes."""
    logging.getLogger(__name__).warning("capsizing %s", token)
    os._exit(1)
