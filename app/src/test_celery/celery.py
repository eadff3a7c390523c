"""The Celery application.

Everything that differs between hosts comes from the environment, so the same code runs
on a laptop and under the systemd units of the deployment; no credential is written here.
"""

import os
import ssl
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


def env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """Read a setting that is one of a few words; the first is the default."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {env[name]!r}")
    return value


def broker_tls(env: Mapping[str, str]) -> dict | None:
    """TLS settings for the broker connection, when the deployment gives a CA to check it by.

    The broker's certificate must chain to CELERY_BROKER_CA_FILE and carry the name
    CELERY_BROKER_TLS_NAME. One name for every broker: on failover Celery keeps checking
    the name it first connected with, so per-host names would refuse the second broker.
    """
    ca_file = env.get("CELERY_BROKER_CA_FILE", "").strip()
    if not ca_file:
        return None
    return {
        "ca_certs": ca_file,
        "cert_reqs": ssl.CERT_REQUIRED,
        # None: the host name of the URL (a single broker).
        "server_hostname": env.get("CELERY_BROKER_TLS_NAME", "").strip() or None,
    }


def beat_schedule(env: Mapping[str, str]) -> dict:
    """The periodic tasks celery beat sends: heartbeat every TEST_CELERY_HEARTBEAT_SECONDS
    (60 by default, 0 for none).

    Each one expires after its own interval: with every worker down, beat does not pile up
    a backlog of heartbeats that would all run at once when one comes back.
    """
    seconds = env_int(env, "TEST_CELERY_HEARTBEAT_SECONDS", 60)
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
    queue_type = env_choice(env, "CELERY_TASK_DEFAULT_QUEUE_TYPE", ("quorum", "classic"))
    celery_app.conf.update(
        # Quorum queues are replicated on every node of a RabbitMQ cluster and survive the
        # loss of a minority of them (one node is a cluster of one: same code path). Celery
        # then sends countdown/ETA tasks through RabbitMQ's own delayed delivery, which
        # wants a topic exchange; classic queues keep Celery's direct exchange.
        task_default_queue=env.get("CELERY_TASK_DEFAULT_QUEUE", "").strip() or "celery",
        task_default_queue_type=queue_type,
        task_default_exchange_type="topic" if queue_type == "quorum" else "direct",
        # delay() returns only once the broker has the task (publisher confirms): a broker
        # crash right after it can no longer lose what the caller was told was sent.
        broker_transport_options={
            "confirm_publish": env_flag(env, "CELERY_BROKER_CONFIRM_PUBLISH", True),
        },
        # Acknowledge a task after it ran and hand it back when its worker process dies,
        # so a restart or a crash loses nothing (a task may then run twice).
        task_acks_late=env_flag(env, "CELERY_TASK_ACKS_LATE", True),
        task_reject_on_worker_lost=env_flag(env, "CELERY_TASK_REJECT_ON_WORKER_LOST", True),
        # With late acks, a prefetch of one keeps slow tasks from queueing behind each other.
        # Measured (make bench): unlimited prefetch (0) drains no-op tasks about 40 % faster
        # on prefork; deployments of many very short tasks can set it through the environment.
        worker_prefetch_multiplier=env_int(env, "CELERY_WORKER_PREFETCH_MULTIPLIER", 1),
        broker_connection_retry_on_startup=True,
        broker_use_ssl=broker_tls(env),
        beat_schedule=beat_schedule(env),
    )
    return celery_app


app = make_app()
