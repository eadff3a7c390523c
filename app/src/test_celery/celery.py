"""The Celery application.

Everything that differs between hosts comes from the environment, so the same code runs
on a laptop and under the systemd units of the deployment; no credential is written here.
"""

import os
from collections.abc import Mapping

from celery import Celery

DEFAULT_RESULT_BACKEND = "rpc://"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a boolean setting; anything but a clear yes or no is an error."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {env[name]!r}")


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """Read a whole-number setting no smaller than minimum."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def make_app(env: Mapping[str, str] | None = None) -> Celery:
    """Build the app from an environment mapping (os.environ by default)."""
    env = os.environ if env is None else env
    celery_app = Celery(
        "test_celery",
        broker=env.get("CELERY_BROKER_URL") or None,
        backend=env.get("CELERY_RESULT_BACKEND") or DEFAULT_RESULT_BACKEND,
        include=["test_celery.tasks"],
    )
    celery_app.conf.update(
        # Acknowledge a task after it ran and hand it back when its worker process dies,
        # so a restart or a crash loses nothing (a task may then run twice).
        task_acks_late=env_flag(env, "CELERY_TASK_ACKS_LATE", True),
        task_reject_on_worker_lost=env_flag(env, "CELERY_TASK_REJECT_ON_WORKER_LOST", True),
        # With late acks, a prefetch of one keeps slow tasks from queueing behind each other.
        # Measured (make bench): unlimited prefetch (0) drains no-op tasks about 40 % faster
        # on prefork; deployments of many very short tasks can set it through the environment.
        worker_prefetch_multiplier=env_int(env, "CELERY_WORKER_PREFETCH_MULTIPLIER", 1),
        broker_connection_retry_on_startup=True,
    )
    return celery_app


app = make_app()
