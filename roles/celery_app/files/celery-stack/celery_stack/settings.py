"""The settings the deployment owns, read from the environment and put on top of an app's.

The broker side of the deployment is declared to match these (the queue type the broker
preflight checks, the TLS listeners, the queue the workers consume), so an app that set
another value itself would be refused by RabbitMQ or silently lose a guarantee. They
therefore win over the app's own configuration, whether it came from
``config_from_object``, ``conf.update`` or nothing. Every other setting stays the app's;
the app's own broker transport options and TLS options are kept and only the keys named
here are replaced.
"""

import os
import ssl
from collections.abc import Mapping

from celery import Celery, signals

# Environment variable -> what it sets. The celery_app role writes all of them into the
# environment file every unit reads; a producer elsewhere sets the same ones. Celery's
# command line reads CELERY_<COMMAND>_<OPTION> itself (CELERY_WORKER_MAX_TASKS_PER_CHILD is
# --max-tasks-per-child, which refuses 0): a name of that form is used only where the
# option means the same, and the bounds whose 0 means "none" are named CELERY_STACK_*.
OWNED_VARIABLES = {
    "CELERY_TASK_DEFAULT_QUEUE": "task_default_queue",
    "CELERY_TASK_DEFAULT_QUEUE_TYPE": "task_default_queue_type (and the exchange types it needs)",
    "CELERY_BROKER_CONFIRM_PUBLISH": "broker_transport_options['confirm_publish']",
    "CELERY_TASK_ACKS_LATE": "task_acks_late",
    "CELERY_TASK_REJECT_ON_WORKER_LOST": "task_reject_on_worker_lost",
    "CELERY_WORKER_PREFETCH_MULTIPLIER": "worker_prefetch_multiplier",
    "CELERY_TASK_TIME_LIMIT": "task_time_limit (seconds; 0 or unset: none)",
    "CELERY_TASK_SOFT_TIME_LIMIT": "task_soft_time_limit (seconds; 0 or unset: none)",
    "CELERY_STACK_MAX_TASKS_PER_CHILD": "worker_max_tasks_per_child (0 or unset: none)",
    "CELERY_STACK_MAX_MEMORY_PER_CHILD": "worker_max_memory_per_child (KiB; 0 or unset: none)",
    "CELERY_BROKER_CA_FILE": "broker_use_ssl (the CA the broker's certificate must chain to)",
    "CELERY_BROKER_TLS_NAME": "broker_use_ssl (the name the broker's certificate must carry)",
}

QUEUE_TYPES = ("quorum", "classic")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A deployment setting in the environment that cannot be used; names the variable."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {env[name]!r}")


def _whole(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def _bound(env: Mapping[str, str], name: str) -> int | None:
    """A limit: a positive whole number, or None for 0 or unset (Celery's "no limit")."""
    return _whole(env, name, 0) or None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {env[name]!r}")
    return value


def broker_tls(env: Mapping[str, str]) -> dict | None:
    """TLS options for the broker connection when the deployment names a CA, else None.

    The broker's certificate must chain to CELERY_BROKER_CA_FILE and carry the name
    CELERY_BROKER_TLS_NAME: one name for every broker, because on failover Celery keeps
    checking the name it first connected with.
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


def deployment_settings(env: Mapping[str, str] | None = None) -> dict:
    """The settings the deployment owns, as Celery setting names and values.

    broker_transport_options and broker_use_ssl hold only the deployment's keys; apply()
    merges them into the app's own.
    """
    env = os.environ if env is None else env
    queue_type = _choice(env, "CELERY_TASK_DEFAULT_QUEUE_TYPE", QUEUE_TYPES)
    # Celery's native delayed delivery (countdown/ETA on quorum queues) routes through
    # topic exchanges; classic queues keep Celery's direct exchange.
    exchange_type = "topic" if queue_type == "quorum" else "direct"
    settings = {
        "task_default_queue": env.get("CELERY_TASK_DEFAULT_QUEUE", "").strip() or "celery",
        "task_default_queue_type": queue_type,
        "task_default_exchange_type": exchange_type,
        # Queues a worker is told to consume (-Q) that no setting declares get the same type.
        "task_create_missing_queue_type": queue_type,
        "task_create_missing_queue_exchange_type": exchange_type if queue_type == "quorum" else None,
        # delay() returns only once the broker has the task (publisher confirms).
        "broker_transport_options": {"confirm_publish": _flag(env, "CELERY_BROKER_CONFIRM_PUBLISH", True)},
        # Acknowledge after the task ran, hand it back when its process dies: a restart
        # or a crash loses nothing (a task may then run twice).
        "task_acks_late": _flag(env, "CELERY_TASK_ACKS_LATE", True),
        "task_reject_on_worker_lost": _flag(env, "CELERY_TASK_REJECT_ON_WORKER_LOST", True),
        "worker_prefetch_multiplier": _whole(env, "CELERY_WORKER_PREFETCH_MULTIPLIER", 1),
        # A task still running at the hard limit has its process killed and is acknowledged
        # as failed: with late acks it would otherwise stay unacknowledged past the broker's
        # consumer_timeout, whose channel close hands it to another worker, again and again.
        "task_time_limit": _bound(env, "CELERY_TASK_TIME_LIMIT"),
        "task_soft_time_limit": _bound(env, "CELERY_TASK_SOFT_TIME_LIMIT"),
        # A worker process that ran this many tasks, or grew past this size (checked after
        # each task), is replaced by a new one; the task it ran is done, none is lost.
        "worker_max_tasks_per_child": _bound(env, "CELERY_STACK_MAX_TASKS_PER_CHILD"),
        "worker_max_memory_per_child": _bound(env, "CELERY_STACK_MAX_MEMORY_PER_CHILD"),
        # systemd restarts a unit that gave up; until then, keep trying the broker.
        "broker_connection_retry_on_startup": True,
    }
    tls = broker_tls(env)
    if tls is not None:
        settings["broker_use_ssl"] = tls
    return settings


def _merged(app: Celery, settings: dict) -> dict:
    """The deployment's settings with the app's own transport and TLS options kept."""
    merged = dict(settings)
    transport = app.conf.broker_transport_options
    merged["broker_transport_options"] = {**(transport if isinstance(transport, Mapping) else {}),
                                          **settings["broker_transport_options"]}
    if "broker_use_ssl" in settings:
        own = app.conf.broker_use_ssl
        merged["broker_use_ssl"] = {**(own if isinstance(own, Mapping) else {}), **settings["broker_use_ssl"]}
    return merged


def apply(app: Celery, env: Mapping[str, str] | None = None) -> Celery:
    """Put the deployment's settings on top of the app's own configuration; returns app.

    The app's configuration is loaded first (its config_from_object module read now), so
    its values cannot come after ours. They are put on top once more when the app is
    finalized and when beat starts, both of which come after the app's task modules are
    imported, in case one of those changes the settings as it is imported.
    """
    settings = deployment_settings(env)

    def put():
        app.conf.update(_merged(app, settings))

    finalize = app.finalize

    def finalize_with_settings(*args, **kwargs):
        # A worker finalizes the app right after importing the task modules; the tasks
        # copy their options (acks_late, ...) from the settings as they are created then.
        if not app.finalized:
            put()
        return finalize(*args, **kwargs)

    def after_beat_imports(sender=None, **_):
        if getattr(sender, "app", None) is app:
            put()

    put()
    app.finalize = finalize_with_settings
    # A strong reference: the receiver lives as long as the process.
    signals.beat_init.connect(after_beat_imports, weak=False)
    return app
