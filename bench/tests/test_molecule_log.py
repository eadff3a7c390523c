"""The Molecule log parser and the statistics, on hand-written logs (no Molecule run).

    .venv/bin/pytest -q bench/tests
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import molecule_log  # noqa: E402
import report  # noqa: E402

ESC = "\x1b"


def coloured(step: str, message: str, level: str = "INFO") -> str:
    return (f"{ESC}[36m{level:<8}{ESC}[0m {ESC}[32mdefault{ESC}[0m ➜ "
            f"{ESC}[33m{step}{ESC}[0m: {ESC}[36m{message}{ESC}[0m")


def test_line_stamps_give_exact_steps():
    log = "\n".join([
        "2026-11-25T10:00:00.000 " + coloured("discovery", "scenario test matrix: destroy"),
        "2026-11-25T10:00:00.500 " + coloured("destroy", "Executing"),
        "2026-11-25T10:00:02.000 some ansible output",
        "2026-11-25T10:00:03.500 " + coloured("destroy", "Executed: Successful"),
        "2026-11-25T10:00:03.600 " + coloured("converge", "Executing"),
        "2026-11-25T10:01:43.600 " + coloured("converge", "Executed: Successful"),
        # the DETAILS summary at the end repeats the lines without a level: ignored
        "2026-11-25T10:01:44.000 default ➜ converge: Executed: Successful",
    ])
    run = molecule_log.parse(log)
    assert run.timing == "line stamps"
    assert [(s.name, s.seconds) for s in run.steps] == [("destroy", 3.0), ("converge", 100.0)]
    assert run.total_seconds == 104.0
    assert run.succeeded


def test_plain_format_and_ts_stamps_and_failure():
    log = "\n".join([
        "Nov 25 23:59:58 INFO     [default > verify] Executing",
        "Nov 26 00:00:07 ERROR    [default > verify] Executed: Failed",
    ])
    run = molecule_log.parse(log)
    assert run.steps[0].seconds == 9.0
    assert run.steps[0].outcome == "Executed: Failed"
    assert not run.succeeded


def test_profile_tasks_estimate_without_line_stamps():
    banner = "  │ Wednesday 25 November 2026  08:41:{s:02d} +0000 (0:00:00.100)       0:00:{e}"
    log = "\n".join([
        coloured("create", "Executing"),
        banner.format(s=10, e="00.009"),
        banner.format(s=13, e="03.289"),
        coloured("create", "Executed: Successful"),
        coloured("converge", "Executing"),
        banner.format(s=20, e="00.010"),
        banner.format(s=50, e="30.500"),
        coloured("converge", "Executed: Successful"),
        coloured("cleanup", "Executing"),
        coloured("cleanup", "Executed: Missing playbook") + " (Remove from test_sequence)",
    ])
    run = molecule_log.parse(log)
    assert run.timing == "profile_tasks estimate"
    assert [s.seconds for s in run.steps] == [3.289, 30.5, 0]
    # from the first playbook's start (08:41:10 - 0.009 s) to the last one's end
    assert abs(run.total_seconds - 40.509) < 0.01


def test_no_time_at_all():
    run = molecule_log.parse(coloured("converge", "Executing") + "\n"
                             + coloured("converge", "Executed: Successful"))
    assert run.timing == "none" and run.total_seconds is None
    assert run.steps[0].seconds is None


def test_percentile_and_pairs():
    values = list(range(1, 101))
    assert report.percentile(values, 50) == 50
    assert report.percentile(values, 99) == 99
    assert report.percentile([5.0], 99) == 5.0
    assert report.pair_ratios([2, 3], [1, 3]) == [2.0, 1.0]
    assert report.summary([3, 1, 2])["median"] == 2
