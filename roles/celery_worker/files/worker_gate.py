"""The worker's deploy gate: load the app as the worker does, expand the node name as the
worker does (%h, %n, %d), and ping that one node through the broker (about 0.4 s when it
is up). Run by the app's Python: worker_gate.py APP NODE [--within SECONDS]; exit 0 when
the node answers. With --within, a node that does not answer yet (a worker still starting
after its restart) is asked again until that many seconds have passed, in this process:
each new try of the gate from Ansible would load Python, Celery and the app again.
"""

import argparse
import sys
import time

from celery.app.utils import find_app
from celery.utils.nodenames import host_format


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worker_gate.py")
    parser.add_argument("app")
    parser.add_argument("node")
    parser.add_argument("--within", type=float, default=0.0)
    args = parser.parse_args(argv)
    app = find_app(args.app)
    node = host_format(args.node)
    deadline = time.monotonic() + args.within
    tries = 0
    while True:
        tries += 1
        try:
            replies = app.control.ping([node], timeout=1.0)
        except Exception as error:  # the broker refused or could not be reached: say so in one line
            print(f"{node}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        if any(node in reply for reply in replies):
            print(f"{node}: pong")
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    print(f"{node}: no answer to ping" + (f" ({tries} tries in {args.within:g} s)" if tries > 1 else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
