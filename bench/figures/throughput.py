"""Figures 1 and 1b: how fast a worker drains a published batch of no-op tasks.

One rotation of drains serves both figures (deployed, by hand, ceiling, again and again),
so the deployed runs are shared and every side meets the same noise. The drain itself
serves figure 5 too (figures/monitoring.py), on hosts of its own.
"""

from functools import partial

import report
from demo import Demo, alternate
from host import say, without_options

# The ceiling's options (BENCH_CEILING_ARGS) replace these; the rest of the command stays.
CEILING_REPLACES = {"--pool", "-P", "--concurrency", "-c", "--loglevel", "-l"}


def rotation(figures: set[str]) -> list[str]:
    """The sides drained in a round, in order, for the figures wanted."""
    return ["deployed", "byhand", "ceiling"] if "1" in figures else []


def measure(demo: Demo, cfg) -> dict[str, dict]:
    names = rotation(cfg.figures)
    ceiling_argv = [*without_options(demo.spec.argv, CEILING_REPLACES), *cfg.ceiling_args]
    workers = {
        "deployed": demo.deployed(),
        "byhand": demo.by_hand("byhand"),
        "ceiling": demo.by_hand("ceiling", ceiling_argv, cfg.ceiling_env),
    }
    say(f"throughput: {cfg.tasks} no-op tasks a run, {cfg.pairs} rounds of {' '.join(names)}")
    runs = alternate(cfg.pairs, {name: partial(drain, demo, cfg.tasks, workers[name])
                                 for name in names}, describe)
    return results(runs, {"args": cfg.ceiling_args, "env": cfg.ceiling_env})


def drain(demo: Demo, tasks: int, worker, monitored: bool = False, task: str = "noop") -> dict:
    """One fresh worker drains a batch of `tasks` (see Demo.running and Demo.drain)."""
    with demo.running(worker, monitored=monitored) as info:
        return {**demo.drain(tasks, task=task), "worker": info}


def describe(run: dict) -> str:
    worker = run["worker"]
    return (f"{run['tasks_per_s']:>9,.0f} tasks/s (published at {run['publish_per_s']:,.0f}/s; "
            f"{worker['pool']} x{worker['concurrency']}, prefetch {worker['prefetch_count']})")


def figure(runs: dict[str, list[dict]], a: str, b: str, sides: tuple[str, str],
           at_least: float | None = None) -> dict:
    """Drains of side `a` against side `b`, by their rates, under the figure's labels."""
    def rates(name: str) -> list[float]:
        return [run["tasks_per_s"] for run in runs[name]]
    return {"unit": "tasks/s", **report.compare(rates(a), rates(b), sides, at_least),
            "runs": {sides[0]: runs[a], sides[1]: runs[b]}}


def results(runs: dict[str, list[dict]], ceiling_config: dict) -> dict[str, dict]:
    """The figures the rotation's runs make: 1 and 1b."""
    if "byhand" not in runs:
        return {}
    return {THROUGHPUT.key: figure(runs, "deployed", "byhand", THROUGHPUT.sides, 0.95),
            CEILING.key: {**figure(runs, "deployed", "ceiling", CEILING.sides),
                          "ceiling_config": ceiling_config}}


def rows(fig: dict) -> list[report.Row]:
    return [report.comparison_row("tasks/s", fig, report.rate)]


THROUGHPUT = report.Figure("1", "1_throughput", "1", "throughput, no-op tasks",
                           ("deployed", "by hand"), rows)
CEILING = report.Figure("1b", "1b_ceiling", "1", "the default against the ceiling",
                        ("deployed default", "ceiling"), rows)
