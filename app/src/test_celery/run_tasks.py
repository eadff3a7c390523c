"""Send longtime_add(1, 2) to the workers and show its result arriving.

Prints, in order: "Task finished? False", "Task result: None" right after sending, then,
once the worker answered, "Task finished? True" and "Task result: 3".
"""

import argparse
import sys

from .tasks import longtime_add


def report(result, out) -> None:
    print(f"Task finished? {result.ready()}", file=out)
    print(f"Task result: {result.result}", file=out)


def main(argv=None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m test_celery.run_tasks", description=__doc__)
    parser.add_argument(
        "--timeout", type=float, default=60.0,
        help="seconds to wait for the result (default: 60)",
    )
    args = parser.parse_args(argv)
    result = longtime_add.delay(1, 2)
    report(result, out)
    out.flush()
    # get() waits for the worker; it raises if the task failed or the time ran out.
    result.get(timeout=args.timeout)
    report(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
