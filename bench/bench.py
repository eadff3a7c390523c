"""The benchmark suite behind `make bench` (bench/run.sh): seven figures.

1. throughput: the deployed celery-worker.service against the same worker started by hand
   (same virtualenv, settings, arguments and broker, without the unit's hardening), and
   the deployed default against the best configuration found on this box (the ceiling);
2. latency: sequential add(1, 1) round trips through the rpc backend, deployed vs by hand;
3. converge: a cold site.yml converge of a fresh container, then the idempotent second run;
4. test cycle: `molecule test` for the default scenario, per step;
5. monitoring cost: throughput with task events on and Flower running vs events off;
6. publish rate of one producer with publisher confirms vs without;
7. quorum vs classic queues: throughput and round-trip latency.

Every comparison alternates its sides (A B A B ...) and quotes medians and ranges. The
demo container is prepared and put back by demo.prepared_demo(). See bench/README.md.
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
from figures import confirms, converge, cycle, latency, queue_types, throughput
from host import BenchError, say

ROOT = Path(__file__).resolve().parent.parent
ALL_FIGURES = "1,2,3,4,5,6,7"


@dataclass(frozen=True)
class Measurement:
    """What runs for the figures it serves; on the demo, or on its own."""
    serves: frozenset[str]
    measure: Callable[..., dict[str, dict]]
    on_demo: bool


MEASUREMENTS = (
    Measurement(frozenset({"1", "5"}), throughput.measure, on_demo=True),
    Measurement(frozenset({"2"}), latency.measure, on_demo=True),
    Measurement(frozenset({"6"}), confirms.measure, on_demo=True),
    Measurement(frozenset({"7"}), queue_types.measure, on_demo=True),
    Measurement(frozenset({"3"}), converge.measure, on_demo=False),
    Measurement(frozenset({"4"}), cycle.measure, on_demo=False),
)
# The table, in this order.
TABLE = (throughput.THROUGHPUT, throughput.CEILING, latency.LATENCY, converge.CONVERGE,
         cycle.CYCLE, throughput.MONITORING, confirms.CONFIRMS, queue_types.QUEUE_TYPES)
# Figures that alternate sides, for the footnote on medians and ranges.
ALTERNATING = {"1", "2", "5", "6", "7"}


def env_int(env: dict, name: str, default: int, minimum: int = 1) -> int:
    value = int(env.get(name, "") or default)
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass
class Config:
    container: str = "celery-demo"
    tasks: int = 20000
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


def measure_all(cfg: Config, results: dict, restore_errors: list[str]) -> None:
    errors = results["figure_errors"]
    wanted = [m for m in MEASUREMENTS if m.serves & cfg.figures]
    on_demo = [m for m in wanted if m.on_demo]
    if on_demo:
        try:
            with prepared_demo(cfg.container, cfg.worker_unit, cfg.flower_unit,
                               restore_errors) as demo:
                results.update(demo.describe())
                for measurement in on_demo:
                    measure_into(results, errors, cfg.figures, measurement, demo, cfg)
        except (BenchError, subprocess.SubprocessError, OSError) as error:
            say(f"setup: {error}")
            for measurement in on_demo:
                for key in measurement.serves & cfg.figures:
                    errors.setdefault(key, str(error))
    for measurement in wanted:
        if not measurement.on_demo:
            measure_into(results, errors, cfg.figures, measurement, cfg)


def table(cfg: Config, results: dict) -> str:
    text = report.table(list(TABLE), cfg.figures, results["figures"],
                        results["figure_errors"])
    if cfg.figures & ALTERNATING:
        text += (f"\n\nMedians over {cfg.pairs} alternating pairs, range in brackets; ratios "
                 f"are medians of the pairs' ratios. {cfg.tasks} tasks a throughput or "
                 f"publish run, {cfg.roundtrips} round trips a latency run.")
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


def main() -> int:
    # `kill` and Ctrl-C both end in the `finally` of prepared_demo(), which puts the
    # demo back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(Config.from_env(os.environ))


if __name__ == "__main__":
    sys.exit(main())
