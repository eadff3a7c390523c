"""Figure 2: sequential add(1, 1) round trips through the rpc backend, deployed vs by hand."""

from functools import partial

import report
from demo import Demo, alternate
from host import say

PERCENTILES = ("p50", "p90", "p99")
TARGETED = ("p50", "p99")  # p90 is shown for information
MAX_RATIO = 1.10


def measure(demo: Demo, cfg) -> dict[str, dict]:
    workers = {"deployed": demo.deployed(), "byhand": demo.by_hand("byhand")}
    say(f"latency: {cfg.roundtrips} sequential add(1, 1) round trips after {cfg.warmup} "
        f"to warm up, {cfg.pairs} rounds of {' '.join(workers)}")
    runs = alternate(cfg.pairs, {name: partial(round_trips, demo, cfg, worker)
                                 for name, worker in workers.items()}, describe)
    return {LATENCY.key: result(runs)}


def round_trips(demo: Demo, cfg, worker) -> dict:
    with demo.running(worker):
        return demo.latency(cfg.roundtrips, cfg.warmup)


def describe(run: dict) -> str:
    return "  ".join(f"{p} {run[p]:.2f} ms" for p in PERCENTILES)


def result(runs: dict[str, list[dict]]) -> dict:
    fig = {"unit": "ms", "target": f"p50 and p99 ratios <= {MAX_RATIO}", "runs": runs,
           **report.compare_latency(runs["deployed"], runs["byhand"], LATENCY.sides,
                                    PERCENTILES)}
    fig["pass"] = all(fig[p]["ratio"]["median"] <= MAX_RATIO for p in TARGETED)
    return fig


def rows(fig: dict) -> list[report.Row]:
    out = []
    for p in PERCENTILES:
        if p in TARGETED:
            ok = fig[p]["ratio"]["median"] <= MAX_RATIO
            out.append(report.latency_row(p, fig, LATENCY.sides, f"<= {MAX_RATIO:.2f}",
                                          report.mark(ok)))
        else:
            out.append(report.latency_row(p, fig, LATENCY.sides))
    return out


LATENCY = report.Figure("2", "2_latency", "2", "round trip, sequential add(1, 1)",
                        ("deployed", "by hand"), rows)
