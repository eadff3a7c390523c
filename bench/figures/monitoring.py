"""Figures 5 and 5b: what monitoring costs a worker, with Flower on a host of its own.

Measured on the bench's three hosts (layout.py), not on the demo: a fresh worker drains
a batch (figure 1's drain) with task events on and Flower running on the monitor host,
against one with events off and Flower stopped, alternately. Figure 5 drains no-op tasks,
the worst case, where the events a task sends cost as much as the task; figure 5b drains
tasks that take 10 ms, to set that per-task cost against work.

Both sides run the deployed command line by hand (figure 1's by-hand worker: same user,
settings and arguments, without the unit's hardening), the events-off side without its
--task-events. Remote control cannot switch off events the command line switched on:
such a worker sends every group of events, and Celery's disable_events only removes the
task group from an explicit list of groups, which it then does not have. The events-off
worker's start-up banner (`.> task events: OFF`) is checked after every run.
"""

import re
from functools import partial

import report
from demo import Demo, alternate
from figures.throughput import describe, drain, figure
from host import BenchError, say

MIN_RATIO = 0.90
# The sides of a figure, by their names in the rotation: with monitoring, without.
MONITORED, UNMONITORED = "monitored", "unmonitored"
# The worker options that switch task events on from the start (`celery worker --help`).
EVENT_FLAGS = frozenset({"-E", "--task-events", "--events"})


def rows(fig: dict) -> list[report.Row]:
    return [report.comparison_row("tasks/s", fig, report.rate)]


SIDES = ("events on + Flower", "events off")
MONITORING = report.Figure("5", "5_monitoring", "5",
                           "cost of monitoring, no-op tasks, Flower on its own host",
                           SIDES, rows)
MONITORING_10MS = report.Figure("5b", "5b_monitoring_10ms", "5b",
                                "cost of monitoring, 10 ms tasks, Flower on its own host",
                                SIDES, rows)
# The driver's filler task of each figure (benchtasks.noop, benchtasks.sleep10).
TASKS = {MONITORING: "noop", MONITORING_10MS: "sleep10"}


def batch(cfg, fig: report.Figure) -> int:
    """Tasks a drain of that figure: 10 ms tasks have a count of their own, or a run of
    20,000 would take minutes."""
    return cfg.tasks_10ms if fig is MONITORING_10MS else cfg.tasks


def rotation(figures: set[str]) -> list[tuple[report.Figure, str]]:
    """The sides drained in a round, in order, for the figures wanted."""
    return [(fig, side) for fig in TASKS if fig.selected_by in figures
            for side in (MONITORED, UNMONITORED)]


def side_name(fig: report.Figure, side: str) -> str:
    return f"{fig.number} {side}"


def without_events(argv: list[str]) -> list[str]:
    return [arg for arg in argv if arg not in EVENT_FLAGS]


def events_at_start(banner_line: str) -> str | None:
    """ON or OFF, from the worker's banner line `.> task events: ON`; None without one."""
    found = re.search(r"task events: (ON|OFF)", banner_line)
    return found.group(1) if found else None


def checked_drain(demo: Demo, tasks: int, worker, monitored: bool, task: str) -> dict:
    """One drain (figure 1's), with the state of task events the worker started in;
    an events-off side whose worker started with events on is an error, not a figure."""
    run = drain(demo, tasks, worker, monitored, task)
    run["task_events_at_start"] = events_at_start(
        demo.host.last_journal_line(worker.unit, "task events:"))
    if not monitored and run["task_events_at_start"] != "OFF":
        raise BenchError(f"the events-off worker {worker.unit} started with task events "
                         f"{run['task_events_at_start'] or 'unknown (no banner)'}")
    return run


def measure(demo: Demo, cfg) -> dict[str, dict]:
    names = rotation(cfg.figures)
    workers = {MONITORED: demo.by_hand(MONITORED),
               UNMONITORED: demo.by_hand(UNMONITORED, without_events(demo.spec.argv))}
    say("monitoring: " + ", ".join(f"{batch(cfg, fig)} {TASKS[fig]} tasks a run for {fig.number}"
                                   for fig in dict.fromkeys(fig for fig, _ in names))
        + f"; {cfg.pairs} rounds of {' '.join(side_name(*name) for name in names)}")
    runs = alternate(cfg.pairs, {
        side_name(fig, side): partial(checked_drain, demo, batch(cfg, fig), workers[side],
                                      side == MONITORED, TASKS[fig])
        for fig, side in names}, describe)
    where = {**demo.about, "argv": {side: worker.spec.argv for side, worker in workers.items()}}
    return results(runs, where)


def results(runs: dict[str, list[dict]], where: dict | None = None) -> dict[str, dict]:
    """Figure 5, 5b or both, from the rotation's runs; `where` says on which hosts and
    with which command lines."""
    out = {}
    for fig, task in TASKS.items():
        a, b = side_name(fig, MONITORED), side_name(fig, UNMONITORED)
        if a in runs:
            out[fig.key] = {**figure(runs, a, b, fig.sides, MIN_RATIO),
                            "task": f"benchtasks.{task}", "where": where or {}}
    return out
