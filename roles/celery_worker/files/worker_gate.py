"""The worker's deploy gate: load the app as the worker does, expand each node name as the
worker does (%h, %n, %d), and ping every node of the host through the broker in one go
(about 0.4 s when they are up). Run by the app's Python:

    worker_gate.py APP [UNIT=]NODE [[UNIT=]NODE ...] [--within SECONDS]

exits 0 when every node answers. One process for the worker and all its instances: each
would otherwise load Python, Celery and the app again. With --within, nodes that do not
answer yet (workers still starting after their restart) are asked again until that many
seconds have passed. A node given with its unit (celery-worker@reports=reports@%h) that
does not answer is reported under the unit's name, in the form the deploy gate reads
(roles/celery_unit: a line "UNIT.service: ..." names a unit that did not pass):
"celery-worker@reports.service: reports@host: no answer to ping". A node that answers is
printed without its unit ("reports@host: pong").
"""

import argparse
import sys
import time

from celery.app.utils import find_app
from celery.utils.nodenames import host_format


def label(unit: str, node: str) -> str:
    return f"{unit}.service: {node}" if unit else node


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worker_gate.py")
    parser.add_argument("app")
    parser.add_argument("nodes", nargs="+", metavar="[UNIT=]NODE")
    parser.add_argument("--within", type=float, default=0.0)
    args = parser.parse_args(argv)
    app = find_app(args.app)
    units = {}
    for given in args.nodes:
        unit, _, node = given.rpartition("=")
        units[host_format(node)] = unit
    waiting = list(units)
    deadline = time.monotonic() + args.within
    tries = 0
    while True:
        tries += 1
        try:
            replies = app.control.ping(waiting, timeout=1.0)
        except Exception as error:  # the broker refused or could not be reached: say so in one line
            for node in waiting:
                print(f"{label(units[node], node)}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        answered = {name for reply in replies for name in reply}
        for node in [n for n in waiting if n in answered]:
            print(f"{node}: pong")
            waiting.remove(node)
        if not waiting:
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    for node in waiting:
        print(f"{label(units[node], node)}: no answer to ping" + (f" ({tries} tries in {args.within:g} s)" if tries > 1 else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
