"""Find the operator's Celery app by the name ``celery -A`` would take, with the
deployment's settings applied."""

import os

from celery.app.utils import find_app

from .settings import apply


class AppNotFound(ImportError):
    """CELERY_STACK_APP is unset, does not import, or names no Celery app."""


def load(name: str | None = None):
    """The operator's Celery app, with the deployment's settings applied."""
    name = (os.environ.get("CELERY_STACK_APP", "") if name is None else name).strip()
    if not name:
        raise AppNotFound("CELERY_STACK_APP is not set: it names the app's module, as for celery -A "
                          "(the deployment's environment file sets it)")
    try:
        found = find_app(name)
    except AttributeError as error:
        raise AppNotFound(f"CELERY_STACK_APP={name!r} holds no Celery app "
                          f"(no attribute 'app' or 'celery', and no Celery instance): {error}") from error
    except ImportError as error:
        raise AppNotFound(f"CELERY_STACK_APP={name!r} does not import: {type(error).__name__}: {error}") from error
    if not hasattr(found, "conf") or not hasattr(found, "tasks"):
        raise AppNotFound(f"CELERY_STACK_APP={name!r} is not a Celery app, got {type(found).__name__}")
    return apply(found)
