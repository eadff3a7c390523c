"""The fault driver's count (tests/support/faults.py collect), from a worker's notes as
record_run writes them: what the Molecule fault cases assert on."""

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))


def count(monkeypatch, tmp_path, capsys, lines: list[str], case: str, n: int) -> dict:
    monkeypatch.setenv("TEST_CELERY_RECORD_DIR", str(tmp_path))
    monkeypatch.delenv("FAULTS_WORKER_CONTAINERS", raising=False)
    (tmp_path / "runs.log").write_text("".join(line + "\n" for line in lines))
    faults = importlib.reload(importlib.import_module("faults"))
    faults.collect(case, n, timeout=0)
    return json.loads(capsys.readouterr().out)


def test_every_task_once(monkeypatch, tmp_path, capsys):
    counts = count(monkeypatch, tmp_path, capsys, [
        "start c-0 10 100.000 id-0 0", "done c-0 10", "start c-1 11 101.000 id-1 0", "done c-1 11",
    ], "c", 2)
    assert counts == {"case": "c", "sent": 2, "completed": 2, "lost": 0, "twice": 0, "executions": 2}


def test_a_task_run_twice_is_shown_with_each_start(monkeypatch, tmp_path, capsys):
    counts = count(monkeypatch, tmp_path, capsys, [
        "start c-0 10 100.000 id-0 0", "done c-0 10",
        "start c-1 11 101.000 id-1 0", "start c-1 12 102.500 id-1 1", "done c-1 12",
        "start other-1 13 103.000 id-9 0",
    ], "c", 3)
    assert (counts["completed"], counts["lost"], counts["twice"], counts["executions"]) == (2, 1, 1, 3)
    # The broker delivered it again (redelivered 1), on the same id.
    assert counts["twice_runs"] == {"c-1": ["this host: start c-1 11 101.000 id-1 0",
                                            "this host: start c-1 12 102.500 id-1 1"]}
