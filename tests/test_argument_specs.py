"""Bad input the argument specs refuse, proven where it is decided.

Ansible validates a role's inputs before its first task, with the role's
meta/argument_specs.yml and ansible's ArgumentSpecValidator: the variables the spec names,
as the host sees them (tests/support/ansible_view.py: the role's defaults, the inventory,
the playbooks' wiring, evaluated by Ansible's templating). These tests do exactly
that, for the preflight entry point each role runs in playbooks/preflight.yml, and read
the message an operator would read.
"""

import copy
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from support.ansible_view import HostView
from support.inventory import BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD, base_vars

ROOT = Path(__file__).resolve().parent.parent
ROLES = ["celery_app", "rabbitmq", "celery_worker", "celery_beat", "flower", "pki"]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def validate(role: str, variables: dict, entry_point: str = "preflight") -> list[str]:
    """The role's validation of `variables` (an inventory's), as its entry point's first
    task does it: its error messages, none when the input passes."""
    options = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"][entry_point]["options"]
    view = HostView(variables)
    provided = {name: copy.deepcopy(view[name]) for name in options if name in view}
    return ArgumentSpecValidator(options).validate(provided, validate_role_argument_spec=True).error_messages


def message(role: str, variables: dict) -> str:
    errors = validate(role, variables)
    text = " ".join(" ".join(errors).split())
    for secret in (BROKER_PASSWORD, FLOWER_PASSWORD, MONITOR_PASSWORD):
        assert " ".join(secret.split()) not in text
    return text


@pytest.mark.parametrize("role", ROLES)
def test_the_valid_inventory_passes_every_role(role):
    assert validate(role, base_vars()) == []


def setter(key, value):
    return lambda variables: variables.__setitem__(key, value)


def deleter(key):
    return lambda variables: variables.pop(key)


def first_permission(**fields):
    def change(variables):
        permission = variables["rabbitmq_users"][0]["permissions"][0]
        for field, value in fields.items():
            if value is None:
                permission.pop(field)
            else:
                permission[field] = value
    return change


# (id, role, change, phrases the message must hold: the variable and the expected form)
CASES = [
    ("missing flower credentials", "flower", deleter("flower_basic_auth"),
     ["missing required arguments: flower_basic_auth"]),
    ("concurrency not a number", "celery_worker", setter("celery_worker_concurrency", "many"),
     ["celery_worker_concurrency", "int"]),
    ("unknown pool", "celery_worker", setter("celery_worker_pool", "fork"),
     ["celery_worker_pool must be one of", "prefork", "got: fork"]),
    ("unknown log level", "celery_worker", setter("celery_worker_loglevel", "verbose"),
     ["celery_worker_loglevel must be one of", "debug"]),
    ("worker instance without queues", "celery_worker", setter("celery_worker_instances", [{"name": "reports"}]),
     ["missing required arguments: queues found in celery_worker_instances"]),
    ("flower port not a number", "flower", setter("flower_port", "http"),
     ["flower_port", "int"]),
    ("permission without its vhost", "rabbitmq", first_permission(vhost=None),
     ["missing required arguments: vhost", "rabbitmq_users", "permissions"]),
    ("policy without a pattern", "rabbitmq", setter("rabbitmq_policies", [{"name": "p", "definition": {"expires": 1000}}]),
     ["missing required arguments: pattern", "rabbitmq_policies"]),
    ("users not a list of entries", "rabbitmq", setter("rabbitmq_users", ["doky"]),
     ["rabbitmq_users", "dict"]),
    ("unknown queue type", "celery_app", setter("celery_app_queue_type", "stream"),
     ["celery_app_queue_type must be one of", "stream"]),
    ("concurrency as a list", "celery_worker", setter("celery_worker_concurrency", [2]),
     ["celery_worker_concurrency", "int"]),
    ("environment as a list", "celery_app", setter("celery_app_environment", ["SENTRY_DSN=x"]),
     ["celery_app_environment", "dict"]),
]


def test_there_are_at_least_ten_distinct_cases():
    assert len({case[0] for case in CASES}) == len(CASES) >= 10


@pytest.mark.parametrize(("role", "change", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_argument_spec_refuses_bad_input(role, change, expected):
    variables = base_vars()
    change(variables)
    text = message(role, variables)
    for phrase in expected:
        assert phrase in text, f"{phrase!r} not in {text!r}"
