"""Run a producer script with the deployment's settings: python -m celery_stack MODULE [ARGS].

MODULE runs as ``python -m MODULE`` would run it, after the app named by CELERY_STACK_APP
got the deployment's settings, so the tasks it sends go out the way the workers expect
(queue type, exchange, confirms, TLS). Example, on an app host as the app's user:

    python -m celery_stack test_celery.run_tasks
"""

import importlib
import runpy
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        sys.exit("usage: python -m celery_stack MODULE [ARGS...]")
    # Importing it loads the app and applies the settings.
    importlib.import_module("celery_stack.app")
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
