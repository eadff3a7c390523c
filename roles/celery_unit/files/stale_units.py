"""Prints each of the named units that runs another release of the app than the newest:
its copy of the release file (made by the drop-in's ExecStartPre= in the unit's runtime
directory, /run/<unit>/) differs from the newest release, or is missing.

Run by the host's Python:

    stale_units.py RELEASE_FILE [--release RELEASE] [--run-dir DIR] UNIT...

The newest release is RELEASE when given (what this run records: in check mode the file
still holds the one before), else the file's content; no file, no release: prints nothing.
"""

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stale_units.py")
    parser.add_argument("release_file")
    parser.add_argument("units", nargs="*")
    parser.add_argument("--release", default="")
    parser.add_argument("--run-dir", default="/run")
    args = parser.parse_intermixed_args(argv)
    release = args.release.strip()
    if not release:
        try:
            with open(args.release_file) as recorded:
                release = recorded.read().strip()
        except FileNotFoundError:
            return 0
    name = os.path.basename(args.release_file)
    for unit in args.units:
        try:
            with open(os.path.join(args.run_dir, unit, name)) as started:
                running = started.read().strip()
        except FileNotFoundError:
            # Started before any release was recorded, or not running at all.
            running = None
        if running != release:
            print(unit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
