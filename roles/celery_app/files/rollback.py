"""Switches the app's services link to the release before the current one and records
that in the release file, so that the roles of the units that run the app restart them on
it (playbooks/rollback.yml). Prints what it did; exits 1 when there is nothing to go back
to. The next converge installs and switches to what the inventory says again.

Run by the host's Python: rollback.py RELEASES_DIR LINK RELEASE_FILE

The release before the current one is found from the releases directory itself: the
newest complete release (by the time its .complete marker was written) completed before
the current one. The virtualenv kept from before releases counts as the oldest.
"""

import json
import os
import sys

BEFORE_RELEASES = "before-releases"


def completed(root: str, name: str) -> float:
    """When the release was completed; -1 for an unfinished one."""
    marker = os.path.join(root, name, ".complete")
    if not os.path.exists(marker):
        return -1
    return 0 if name == BEFORE_RELEASES else os.path.getmtime(marker)


def main(argv: list[str]) -> int:
    root, link, release_file = argv
    current = os.path.basename(os.readlink(link)) if os.path.islink(link) else ""
    if completed(root, current) < 0:
        print(f"{link} points to no complete release ({current or 'not a link'}); nothing to go back from",
              file=sys.stderr)
        return 1
    older = [name for name in os.listdir(root)
             if name != current and 0 <= completed(root, name) < completed(root, current)]
    if not older:
        print(f"no complete release in {root} is older than the current one ({current})", file=sys.stderr)
        return 1
    target = max(older, key=lambda name: completed(root, name))

    # Atomic for the services: a new process starts either from the old or from the new one.
    temporary = link + ".rollback"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(os.path.join(os.path.basename(root), target), temporary)
    os.replace(temporary, link)
    # Differs from every release a converge records: the units restart on the rolled-back
    # code now, and on the inventory's release at the next converge.
    with open(release_file, "w") as recorded:
        recorded.write(json.dumps({"rolled_back_to": target}) + "\n")
    print(f"switched {link} from release {current} to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
