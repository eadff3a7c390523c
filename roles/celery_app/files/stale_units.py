"""Prints the runtime directory (the unit's name) of every copy of the release file under
/run that differs from the newest release: the units that run old code or old settings.
Run by the host's Python: stale_units.py RELEASE_FILE_NAME RELEASE [RUN_DIR].
"""

import glob
import os
import sys


def main(argv: list[str]) -> int:
    name, release = argv[0], argv[1]
    run_dir = argv[2] if len(argv) > 2 else "/run"
    for path in sorted(glob.glob(os.path.join(run_dir, "*", name))):
        with open(path) as copy:
            if copy.read().strip() != release:
                print(os.path.basename(os.path.dirname(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
