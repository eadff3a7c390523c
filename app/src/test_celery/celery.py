"""The Celery application.

An ordinary app: the broker comes from CELERY_BROKER_URL (Celery reads it itself), results
go back over the broker (rpc://) unless CELERY_RESULT_BACKEND says otherwise, and no
credential is written here. Queue types, confirms, late acks and TLS are the deployment's
to set (celery_stack, installed with every release): this app sets none of them.
"""

import os
from collections.abc import Mapping

from celery import Celery

DEFAULT_RESULT_BACKEND = "rpc://"


def beat_schedule(env: Mapping[str, str]) -> dict:
    """The periodic tasks celery beat sends: heartbeat every TEST_CELERY_HEARTBEAT_SECONDS
    (60 by default, 0 for none).

    Each one expires after its own interval: with every worker down, beat does not pile up
    a backlog of heartbeats that would all run at once when one comes back.
    """
    value = env.get("TEST_CELERY_HEARTBEAT_SECONDS", "").strip() or "60"
    if not value.isdigit():
        raise ValueError(f"TEST_CELERY_HEARTBEAT_SECONDS must be a whole number of seconds, got {value!r}")
    seconds = int(value)
    if not seconds:
        return {}
    return {
        "heartbeat": {
            "task": "test_celery.tasks.heartbeat",
            "schedule": float(seconds),
            "options": {"expires": float(seconds)},
        },
    }


def make_app(env: Mapping[str, str] | None = None) -> Celery:
    """Build the app from an environment mapping (os.environ by default)."""
    env = os.environ if env is None else env
    celery_app = Celery(
        "test_celery",
        broker=env.get("CELERY_BROKER_URL") or None,
        backend=env.get("CELERY_RESULT_BACKEND") or DEFAULT_RESULT_BACKEND,
        include=["test_celery.tasks"],
    )
    celery_app.conf.beat_schedule = beat_schedule(env)
    return celery_app


app = make_app()
