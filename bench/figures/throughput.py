"""Figures 1, 1b and 5: how fast a worker drains a published batch of no-op tasks.

One rotation of drains serves the three figures (deployed, by hand, ceiling, deployed
with Flower, again and again), so the deployed runs are shared and every side meets the
same noise.
"""

from functools import partial

import report
from demo import Demo, alternate
from host import say, without_options

# The ceiling's options (BENCH_CEILING_ARGS) replace these; the rest of the command stays.
CEILING_REPLACES = {"--pool", "-P", "--concurrency", "-c", "--loglevel", "-l"}


def rotation(figures: set[str]) -> list[str]:
    """The sides drained in a round, in order, for the figures wanted."""
    names = []
    if "1" in figures:
        names += ["deployed", "byhand", "ceiling"]
    if "5" in figures:
        names += ["monitored"] if "deployed" in names else ["deployed", "monitored"]
    return names


def measure(demo: Demo, cfg) -> dict[str, dict]:
    names = rotation(cfg.figures)
    ceiling_argv = [*without_options(demo.spec.argv, CEILING_REPLACES), *cfg.ceiling_args]
    workers = {
        "deployed": (demo.deployed(), False),
        "byhand": (demo.by_hand("byhand"), False),
        "ceiling": (demo.by_hand("ceiling", ceiling_argv, cfg.ceiling_env), False),
        "monitored": (demo.deployed(), True),
    }
    say(f"throughput: {cfg.tasks} no-op tasks a run, {cfg.pairs} rounds of {' '.join(names)}")
    runs = alternate(cfg.pairs, {name: partial(drain, demo, cfg.tasks, *workers[name])
                                 for name in names}, describe)
    return results(runs, {"args": cfg.ceiling_args, "env": cfg.ceiling_env})


def drain(demo: Demo, tasks: int, worker, monitored: bool) -> dict:
    with demo.running(worker, monitored=monitored) as info:
        return {**demo.drain(tasks), "worker": info}


def describe(run: dict) -> str:
    worker = run["worker"]
    return (f"{run['tasks_per_s']:>9,.0f} tasks/s (published at {run['publish_per_s']:,.0f}/s; "
            f"{worker['pool']} x{worker['concurrency']}, prefetch {worker['prefetch_count']})")


def results(runs: dict[str, list[dict]], ceiling_config: dict) -> dict[str, dict]:
    """The figures the rotation's runs make: 1 and 1b when it drained by hand and the
    ceiling, 5 when it drained with Flower."""
    rates = {name: [run["tasks_per_s"] for run in side] for name, side in runs.items()}

    def figure(a: str, b: str, sides: tuple[str, str], at_least: float | None = None) -> dict:
        return {"unit": "tasks/s", **report.compare(rates[a], rates[b], sides, at_least),
                "runs": {sides[0]: runs[a], sides[1]: runs[b]}}

    out = {}
    if "byhand" in runs:
        out[THROUGHPUT.key] = figure("deployed", "byhand", THROUGHPUT.sides, 0.95)
        out[CEILING.key] = {**figure("deployed", "ceiling", CEILING.sides),
                            "ceiling_config": ceiling_config}
    if "monitored" in runs:
        out[MONITORING.key] = figure("monitored", "deployed", MONITORING.sides, 0.90)
    return out


def rows(fig: dict) -> list[report.Row]:
    return [report.comparison_row("tasks/s", fig, report.rate)]


THROUGHPUT = report.Figure("1", "1_throughput", "1", "throughput, no-op tasks",
                           ("deployed", "by hand"), rows)
CEILING = report.Figure("1b", "1b_ceiling", "1", "the default against the ceiling",
                        ("deployed default", "ceiling"), rows)
MONITORING = report.Figure("5", "5_monitoring", "5", "cost of monitoring",
                           ("events on + Flower", "events off"), rows)
