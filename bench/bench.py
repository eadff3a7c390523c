"""The benchmark suite behind `make bench` (bench/run.sh): seven figures and two more
views of them (1b, 5b).

1. throughput: the deployed celery-worker.service against the same worker started by hand
   (same virtualenv, settings, arguments and broker, without the unit's hardening), and
   the deployed default against the best configuration found on this box (the ceiling);
2. latency: sequential add(1, 1) round trips through the rpc backend, deployed vs by hand;
3. converge: a cold site.yml converge of a fresh container, then the idempotent second run;
4. test cycle: `molecule test` for the default scenario, per step;
5. monitoring cost: throughput with task events on and Flower running vs events off, on
   three hosts of the bench's own (broker, worker, monitor), with no-op tasks and (5b)
   tasks of 10 ms;
6. publish rate of one producer with publisher confirms vs without;
7. quorum vs classic queues: throughput and round-trip latency;
8. a rolling restart of three clustered brokers under a steady publish, the workers
   drained off each broker first vs not: the restart's time, the producer's longest
   stall, and the tasks run twice or lost (on a cluster of the bench's own).

Every comparison alternates its sides (A B A B ...) and quotes medians and ranges. The
demo container is prepared and put back by demo.prepared_demo(); the three hosts of
figure 5 are made and removed by layout.prepared_layout(), the cluster of figure 8 by
layout.prepared_cluster(). See bench/README.md.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import report
from demo import prepared_demo
from figures import (confirms, converge, cycle, latency, monitoring, queue_types,
                     rolling_restart, throughput)
from host import BenchError, say
from layout import prepared_cluster, prepared_layout

ROOT = Path(__file__).resolve().parent.parent
ALL_FIGURES = "1,2,3,4,5,5b,6,7"
# Where a measurement runs: in the demo container, on the bench's own three hosts, on
# its own cluster of brokers, or wherever it makes for itself (a fresh container,
# Molecule's).
DEMO, LAYOUT, CLUSTER, OWN = "demo", "layout", "cluster", "own"


@dataclass(frozen=True)
class Measurement:
    """What runs for the figures it serves, and where."""
    serves: frozenset[str]
    measure: Callable[..., dict[str, dict]]
    on: str


MEASUREMENTS = (
    Measurement(frozenset({"1"}), throughput.measure, on=DEMO),
    Measurement(frozenset({"2"}), latency.measure, on=DEMO),
    Measurement(frozenset({"6"}), confirms.measure, on=DEMO),
    Measurement(frozenset({"7"}), queue_types.measure, on=DEMO),
    Measurement(frozenset({"5", "5b"}), monitoring.measure, on=LAYOUT),
    Measurement(frozenset({"8"}), rolling_restart.measure, on=CLUSTER),
    Measurement(frozenset({"3"}), converge.measure, on=OWN),
    Measurement(frozenset({"4"}), cycle.measure, on=OWN),
)
# The table, in this order.
TABLE = (throughput.THROUGHPUT, throughput.CEILING, latency.LATENCY, converge.CONVERGE,
         cycle.CYCLE, monitoring.MONITORING, monitoring.MONITORING_10MS, confirms.CONFIRMS,
         queue_types.QUEUE_TYPES, rolling_restart.ROLLING_RESTART)
# Figures that alternate sides, for the footnote on medians and ranges.
ALTERNATING = {"1", "2", "5", "5b", "6", "7", "8"}
# Figures that BENCH_TASKS and BENCH_ROUNDTRIPS count for.
COUNTED = {"1", "2", "5", "6", "7"}


def env_int(env: dict, name: str, default: int, minimum: int = 1) -> int:
    value = int(env.get(name, "") or default)
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass
class Config:
    container: str = "celery-demo"
    tasks: int = 20000
    tasks_10ms: int = 2000  # figure 5b: 10 s a run at the demo's two pool processes
    pairs: int = 3
    roundtrips: int = 1000
    warmup: int = 100
    figures: set[str] = field(default_factory=lambda: set(ALL_FIGURES.split(",")))
    worker_unit: str = "celery-worker"
    flower_unit: str = "flower"
    ceiling_args: list[str] = field(default_factory=lambda: ["--pool=solo",
                                                             "--loglevel=WARNING"])
    ceiling_env: list[str] = field(default_factory=lambda: [
        "CELERY_WORKER_PREFETCH_MULTIPLIER=0"])
    image: str = "celery-stack/debian-systemd:12"
    # CPUs the monitor host of figure 5 has to itself (the broker and worker hosts get the
    # others); empty: the three share every CPU.
    monitor_cpus: str = "0"
    # Figure 8: the producer's interval, and the tasks of 30 s running as the restart
    # begins (one per pool process of the layout's worker).
    restart_every_ms: int = 50
    restart_long: int = 2
    molecule_log: str = ""
    # On by default so `make bench` prints every figure; 0 skips it (e.g. while another
    # Molecule run uses the same container names).
    run_molecule: bool = True
    molecule_scenario: str = "default"
    results: Path = ROOT / "bench" / "results"
    stamp: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ"))

    @classmethod
    def from_env(cls, env: dict) -> Config:
        default = cls()
        return cls(
            container=env.get("BENCH_CONTAINER", default.container),
            tasks=env_int(env, "BENCH_TASKS", default.tasks, minimum=3),
            tasks_10ms=env_int(env, "BENCH_TASKS_10MS", default.tasks_10ms, minimum=3),
            pairs=env_int(env, "BENCH_PAIRS", default.pairs),
            roundtrips=env_int(env, "BENCH_ROUNDTRIPS", default.roundtrips),
            warmup=env_int(env, "BENCH_WARMUP", default.warmup, minimum=0),
            figures=set(env.get("BENCH_FIGURES", ALL_FIGURES).replace(" ", "").split(",")),
            worker_unit=env.get("BENCH_WORKER_UNIT", default.worker_unit),
            flower_unit=env.get("BENCH_FLOWER_UNIT", default.flower_unit),
            ceiling_args=shlex.split(env["BENCH_CEILING_ARGS"])
            if "BENCH_CEILING_ARGS" in env else default.ceiling_args,
            ceiling_env=shlex.split(env["BENCH_CEILING_ENV"])
            if "BENCH_CEILING_ENV" in env else default.ceiling_env,
            image=env.get("BENCH_IMAGE", default.image),
            monitor_cpus=env.get("BENCH_MONITOR_CPUS", default.monitor_cpus),
            restart_every_ms=env_int(env, "BENCH_RESTART_EVERY_MS", default.restart_every_ms),
            restart_long=env_int(env, "BENCH_RESTART_LONG", default.restart_long, minimum=0),
            molecule_log=env.get("BENCH_MOLECULE_LOG", ""),
            run_molecule=env.get("BENCH_RUN_MOLECULE", "1") == "1",
            molecule_scenario=env.get("BENCH_MOLECULE_SCENARIO", default.molecule_scenario),
            results=Path(env.get("BENCH_RESULTS", default.results)),
            stamp=env.get("BENCH_STAMP") or default.stamp,
        )

    def public(self) -> dict:
        return {k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
                for k, v in self.__dict__.items()}


def measure_into(results: dict, errors: dict, wanted: set[str], measurement: Measurement,
                 *args) -> None:
    """Run one measurement; an error is the error of every wanted figure it serves."""
    try:
        results["figures"].update(measurement.measure(*args))
    except (BenchError, subprocess.SubprocessError, OSError) as error:
        for key in sorted(measurement.serves & wanted):
            say(f"figure {key}: {error}")
            errors[key] = str(error)


def places(cfg: Config, restore_errors: list[str]) -> dict[str, Callable]:
    """How each place is prepared: a context manager giving the prepared Demo, which puts
    back (the demo) or removes (the layout) what it made on the way out."""
    return {
        DEMO: lambda: prepared_demo(cfg.container, cfg.worker_unit, cfg.flower_unit,
                                    restore_errors),
        LAYOUT: lambda: prepared_layout(cfg.image, cfg.monitor_cpus, cfg.worker_unit,
                                        cfg.flower_unit,
                                        cfg.results / f"{cfg.stamp}-layout-converge.log",
                                        restore_errors),
        CLUSTER: lambda: prepared_cluster(cfg.image, cfg.worker_unit,
                                          cfg.results / f"{cfg.stamp}-cluster-converge.log",
                                          restore_errors),
    }


def places_needed(figures: set[str]) -> set[str]:
    return {m.on for m in MEASUREMENTS if m.serves & figures}


def measure_all(cfg: Config, results: dict, restore_errors: list[str]) -> None:
    errors = results["figure_errors"]
    wanted = [m for m in MEASUREMENTS if m.serves & cfg.figures]
    for place, prepared in places(cfg, restore_errors).items():
        here = [m for m in wanted if m.on == place]
        if not here:
            continue
        try:
            with prepared() as demo:
                described = demo.describe()
                # The demo's worker and versions at the top, as before; the layout's apart.
                results.update(described if place == DEMO else {place: described})
                for measurement in here:
                    measure_into(results, errors, cfg.figures, measurement, demo, cfg)
        except (BenchError, subprocess.SubprocessError, OSError) as error:
            say(f"setup of the {place}: {error}")
            for measurement in here:
                for key in measurement.serves & cfg.figures:
                    errors.setdefault(key, str(error))
    for measurement in wanted:
        if measurement.on == OWN:
            measure_into(results, errors, cfg.figures, measurement, cfg)


def table(cfg: Config, results: dict) -> str:
    text = report.table(list(TABLE), cfg.figures, results["figures"],
                        results["figure_errors"])
    if cfg.figures & ALTERNATING:
        text += (f"\n\nMedians over {cfg.pairs} alternating pairs, range in brackets; ratios "
                 f"are medians of the pairs' ratios.")
        if cfg.figures & COUNTED:
            text += (f" {cfg.tasks} tasks a throughput or publish run, {cfg.roundtrips} "
                     "round trips a latency run.")
        if "5b" in cfg.figures:
            text += f" {cfg.tasks_10ms} tasks of 10 ms a run of 5b."
        if "8" in cfg.figures:
            text += (f" Figure 8: a task every {cfg.restart_every_ms} ms, "
                     f"{cfg.restart_long} tasks of 30 s running as the restart begins.")
        if cfg.pairs < 3:
            text += "\nFewer than 3 pairs: a quick run to try the suite, not a result."
    return text


def run(cfg: Config) -> int:
    cfg.results.mkdir(parents=True, exist_ok=True)
    results: dict = {"figures": {}, "figure_errors": {},
                     "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "config": cfg.public(), "machine": {"cpus": os.cpu_count()}}
    restore_errors: list[str] = []
    measure_all(cfg, results, restore_errors)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["restore_errors"] = restore_errors
    results["table"] = table(cfg, results)
    out = cfg.results / f"{cfg.stamp}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(results["table"])
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 1 if results["figure_errors"] or restore_errors else 0


def main(argv: list[str]) -> int:
    cfg = Config.from_env(os.environ)
    if argv == ["--needs-demo"]:  # for run.sh: converge the demo only when it is used
        return 0 if DEMO in places_needed(cfg.figures) else 1
    # `kill` and Ctrl-C both end in the `finally` of prepared_demo(), which puts the
    # demo back, and of prepared_layout() and prepared_cluster(), which remove their hosts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
