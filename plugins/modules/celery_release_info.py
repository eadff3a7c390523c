"""Read what an app host runs now, in one call: the release recorded last, the files
that hold its settings, the services' virtualenv link, the complete releases, and what
earlier versions of the role or an interrupted build left in the app's home.

The role needs all of it before it changes anything (an undo puts the settings back, a
build is skipped when its release is complete). As one slurp, find and stat each, it was
six module runs on every converge of every app host; each starts Python on the host and
loads Ansible's module code again (about a quarter of a CPU second apiece).
"""

import base64
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: celery_release_info
short_description: Read an app host's recorded release, its settings files, its releases and its virtualenv link
description:
  - Reads files and directories only; it changes nothing, in check mode or not.
  - The settings files' contents are returned (base64): register the result with C(no_log).
options:
  home:
    description: The app's home, which holds C(releases/) and the leftovers looked for.
    type: path
    required: true
  venv:
    description: The services' virtualenv path, a link to a release.
    type: path
    required: true
  release_file:
    description: The file that records the release the units should run.
    type: path
    required: true
  settings_files:
    description: The files the units read their settings from; those that exist are returned.
    type: list
    elements: path
    default: []
  leftovers:
    description: Names directly under O(home) to look for.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Read the release the units run now
  celery_stack.deploy.celery_release_info:
    home: /opt/orders
    venv: /opt/orders/venv
    release_file: /etc/orders/release
    settings_files: [/etc/orders/orders.env]
  register: current
  no_log: true
"""

RETURN = r"""
release:
  description: The release file's content, or null when there is none.
  type: str
  returned: always
settings:
  description: Each existing settings file as C(source) (its path) and C(content) (base64), in the order given.
  type: list
  returned: always
leftovers:
  description: The paths of the O(leftovers) found under O(home).
  type: list
  returned: always
venv:
  description: >-
    The virtualenv path as C(exists), C(islnk), C(isdir) (a directory that is not a link),
    C(lnk_target) (empty when not a link) and C(owner) (the link's own owner's name).
  type: dict
  returned: always
complete_releases:
  description: The names of the directories under C(releases/) that hold a C(.complete) marker, sorted.
  type: list
  returned: always
"""


def read(path: str):
    """The file's bytes, or None when it is not there."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def venv_state(path: str) -> dict:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False, "islnk": False, "isdir": False, "lnk_target": "", "owner": ""}
    islnk = os.path.islink(path)
    return {
        "exists": True,
        "islnk": islnk,
        "isdir": not islnk and os.path.isdir(path),
        "lnk_target": os.readlink(path) if islnk else "",
        "owner": owner(status.st_uid),
    }


def complete_releases(home: str) -> list:
    root = os.path.join(home, "releases")
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if os.path.isfile(os.path.join(root, name, ".complete")))


def release_info(home: str, venv: str, release_file: str, settings_files: list, leftovers: list) -> dict:
    recorded = read(release_file)
    settings = []
    for path in settings_files:
        content = read(path)
        if content is not None:
            settings.append({"source": path, "content": base64.b64encode(content).decode("ascii")})
    return {
        "release": None if recorded is None else recorded.decode("utf-8", "replace"),
        "settings": settings,
        "leftovers": [os.path.join(home, name) for name in leftovers if os.path.lexists(os.path.join(home, name))],
        "venv": venv_state(venv),
        "complete_releases": complete_releases(home),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            home=dict(type="path", required=True),
            venv=dict(type="path", required=True),
            release_file=dict(type="path", required=True),
            settings_files=dict(type="list", elements="path", default=[]),
            leftovers=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        info = release_info(params["home"], params["venv"], params["release_file"],
                            params["settings_files"], params["leftovers"])
    except OSError as error:
        module.fail_json(msg="cannot read %s: %s" % (error.filename, error.strerror))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
