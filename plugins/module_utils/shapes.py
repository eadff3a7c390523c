"""Shapes one role derives from its inputs, written once: the role's vars/ call them
through plugins/filter/shapes.py, and the input rules (plugins/filter/inputs.py) check
the very same shapes."""

from __future__ import annotations


def app_users(accounts) -> list[dict]:
    """The apps' broker accounts (rabbitmq_app_accounts) in the shape of rabbitmq_users:
    one user, its tags, its rights on its one vhost (".*" for a right left out)."""
    return [{"name": a.get("user"), "password": a.get("password"), "tags": a.get("tags") or [],
             "permissions": [{"vhost": a.get("vhost"), "configure": a.get("configure", ".*"),
                              "write": a.get("write", ".*"), "read": a.get("read", ".*")}]}
            for a in accounts or []]
