"""The app every unit of the deployment runs: ``celery -A celery_stack.app``.

Loads the operator's Celery app named by CELERY_STACK_APP (what ``celery -A`` would take:
a module, or module:attribute) and puts the deployment's settings on top of its own
(celery_stack.settings). Tasks, routes, schedules and every other setting stay the app's.
"""

from .loading import load

app = load()
