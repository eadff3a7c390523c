"""The Celery settings a celery_stack deployment owns, for any Celery app it runs.

The roles run every unit (worker, its instances, beat, Flower) with ``celery -A
celery_stack.app``: that module loads the operator's app (CELERY_STACK_APP) and applies
the deployment's settings on top of whatever the app configured itself. A producer that
the roles do not manage applies the same settings with one call::

    from celery_stack import apply
    apply(app)            # reads the same CELERY_* variables as the units' environment file
"""

from .settings import OWNED_VARIABLES, SettingsError, apply, deployment_settings

__all__ = ["OWNED_VARIABLES", "SettingsError", "apply", "deployment_settings"]
