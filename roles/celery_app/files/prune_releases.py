"""Removes releases beyond the newest KEEP complete ones (by completion time), never the
one switched to nor the one it replaced; prints the name of each it removed.
Run by the host's Python: prune_releases.py RELEASES_DIR KEEP CURRENT PREVIOUS.
"""

import os
import shutil
import sys


def finished(root: str, name: str) -> float:
    """When the release was completed (its .complete marker), 0 for an unfinished one."""
    marker = os.path.join(root, name, ".complete")
    return os.path.getmtime(marker) if os.path.exists(marker) else 0


def main(argv: list[str]) -> int:
    root, keep, current, previous = argv[0], int(argv[1]), argv[2], argv[3]
    names = sorted(os.listdir(root), key=lambda name: finished(root, name), reverse=True)
    kept = [name for name in names if finished(root, name)][:keep]
    for name in names:
        if name not in kept and name not in (current, previous):
            shutil.rmtree(os.path.join(root, name))
            print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
