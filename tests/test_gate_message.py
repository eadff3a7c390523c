"""The failure of a deploy gate (roles/celery_unit, tasks_from: gate), as the run prints it:
the units that did not pass, named from the gate command's output, the last answer, and
the journal of those units only. One gate asks for a worker and all its instances."""

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from support.ansible_view import trusted

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "celery_unit"


def failure(output: list[str], name: str = "celery-worker", units: list[str] | None = None) -> dict:
    """The message and the journal's units, after the gate's last try printed output."""
    variables = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
                 **yaml.safe_load((ROLE / "vars" / "main.yml").read_text()),
                 "celery_unit_names": units or [name],
                 "celery_unit_gate_what": "the worker answers a Celery ping", "celery_unit_gate_timeout": 60,
                 "__celery_unit_gate": {"stdout_lines": output, "stderr_lines": []},
                 "__celery_unit_journal": {"stdout_lines": ["journal line"]}}
    templar = Templar(loader=DataLoader(), variables=trusted(variables))
    return {"message": templar.template(trusted(variables["__celery_unit_gate_failure"])),
            "units": templar.template(trusted(variables["__celery_unit_gate_failed"]))}


def test_a_unit_alone_is_named_with_its_journal():
    seen = failure(["celery@w1: no answer to ping"])
    assert seen["units"] == ["celery-worker"]
    assert seen["message"][0].startswith('Deploy gate: celery-worker.service did not pass "the worker answers')
    assert seen["message"][0].endswith("Last answer: celery@w1: no answer to ping")
    assert seen["message"][1:] == ["Last 30 lines of journalctl -u celery-worker:", "journal line"]


def test_of_a_worker_and_its_instances_only_the_one_that_did_not_answer_is_named():
    seen = failure(["celery@w1: pong",
                    "celery-worker@reports.service: reports@w1: no answer to ping (6 tries in 8 s)"],
                   units=["celery-worker", "celery-worker@reports", "celery-worker@bulk"])
    assert seen["units"] == ["celery-worker@reports"]
    assert seen["message"][0].startswith("Deploy gate: celery-worker@reports.service did not pass")
    assert seen["message"][1] == "Last 30 lines of journalctl -u celery-worker@reports:"


def test_every_unit_that_failed_is_named():
    seen = failure(["celery-worker.service: celery@w1: OperationalError: [Errno 111] Connection refused",
                    "celery-worker@bulk.service: bulk@w1: OperationalError: [Errno 111] Connection refused"],
                   units=["celery-worker", "celery-worker@bulk"])
    assert seen["units"] == ["celery-worker", "celery-worker@bulk"]
    assert seen["message"][1] == "Last 30 lines of journalctl -u celery-worker -u celery-worker@bulk:"


def test_output_that_names_no_unit_blames_every_unit_of_the_gate():
    # The app did not even load: no node was asked.
    seen = failure(["ModuleNotFoundError: No module named 'shipyard.nosuch'"],
                   units=["celery-worker", "celery-worker@reports"])
    assert seen["units"] == ["celery-worker", "celery-worker@reports"]
    assert seen["message"][0].startswith("Deploy gate: celery-worker.service, celery-worker@reports.service did not")


def test_a_unit_named_in_the_output_but_not_asked_for_is_not_blamed():
    seen = failure(["other.service: something"], name="flower")
    assert seen["units"] == ["flower"]
