"""The worker's deploy gate: load the app as the worker does, expand the node name as the
worker does (%h, %n, %d), and ping that one node through the broker (about 0.4 s when it
is up). Run by the app's Python: worker_gate.py APP NODE; exit 0 when the node answers.
"""

import sys

from celery.app.utils import find_app
from celery.utils.nodenames import host_format


def main(argv: list[str]) -> int:
    app = find_app(argv[0])
    node = host_format(argv[1])
    try:
        replies = app.control.ping([node], timeout=2.0)
    except Exception as error:  # the broker refused or could not be reached: say so in one line
        print(f"{node}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    answered = any(node in reply for reply in replies)
    print(f"{node}: {'pong' if answered else 'no answer to ping'}")
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
