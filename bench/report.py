"""Statistics, comparisons of two sides, and the plain-text table of bench/bench.py."""

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with pct % of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float], digits: int = 3) -> dict:
    """Median and range of a set of figures, with the figures themselves."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "values": []}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "values": [round(v, digits) for v in values],
    }


def pair_ratios(a: list[float], b: list[float]) -> list[float]:
    """a[i] / b[i] for every pair measured back to back."""
    return [x / y for x, y in zip(a, b) if y]


def compare(a: list[float], b: list[float], labels: tuple[str, str],
            at_least: float | None = None, digits: int = 1) -> dict:
    """Both sides' medians and ranges, A / B, and whether A / B reaches `at_least`.

    The ratio quoted is the median of the pairs' ratios: each pair ran back to back, so a
    slow drift of the machine cancels out. The ratio of the medians is kept beside it.
    Without a target the figure is information (pass None).
    """
    ratios = summary(pair_ratios(a, b))
    median_b = statistics.median(b) if b else 0
    return {
        "sides": {labels[0]: summary(a, digits), labels[1]: summary(b, digits)},
        "ratio": ratios,
        "ratio_of_medians": round(statistics.median(a) / median_b, 3) if a and median_b
        else None,
        "target": None if at_least is None else f">= {at_least:.2f}",
        "pass": None if at_least is None else ratios["median"] >= at_least,
    }


def latency_run(samples_ms: list[float]) -> dict:
    """One latency run: its percentiles by nearest rank, extremes and count."""
    run = {p: round(percentile(samples_ms, q), 3)
           for p, q in (("p50", 50), ("p90", 90), ("p99", 99))}
    run.update(min=round(min(samples_ms), 3), max=round(max(samples_ms), 3),
               count=len(samples_ms))
    return run


def compare_latency(a: list[dict], b: list[dict], labels: tuple[str, str],
                    percentiles: Iterable[str]) -> dict:
    """Per percentile: both sides' medians over their runs, and the pairs' ratios."""
    out = {}
    for p in percentiles:
        values_a, values_b = [r[p] for r in a], [r[p] for r in b]
        out[p] = {labels[0]: summary(values_a), labels[1]: summary(values_b),
                  "ratio": summary(pair_ratios(values_a, values_b))}
    return out


def mark(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[ok]


# --- formatting of one cell ----------------------------------------------------------------
# The unit is said once, in the row's measure ("tasks/s", "p50 ms"), not in every cell.

def _spread(s: dict, fmt: str) -> str:
    """The median, then the range in brackets when there was more than one run."""
    if not s or s.get("median") is None:
        return "-"
    text = f"{s['median']:{fmt}}"
    if s["n"] == 1:
        return text
    return f"{text} ({s['min']:{fmt}}-{s['max']:{fmt}})"


def rate(s: dict) -> str:
    """'3,412 (3,301-3,531)'"""
    return _spread(s, ",.0f")


def ms(s: dict) -> str:
    """'1.51 (1.46-1.55)'"""
    return _spread(s, ".2f")


def fixed(s: dict, places: int = 1) -> str:
    """'41.2 (39.8-44.0)' with places=1"""
    return _spread(s, f".{places}f")


def count(s: dict) -> str:
    """'0 (0-2)'"""
    return _spread(s, ",.0f")


def ratio(s: dict) -> str:
    # Three decimals: a ratio of 0.946 must not read as the 0.95 it misses.
    return _spread(s, ".3f")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 60:
        return f"{value:.0f} s ({int(value // 60)}m{value % 60:02.0f}s)"
    return f"{value:.1f} s"


# --- the table -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One measure of a figure; its sides' labels are in the figure's heading line."""
    measure: str
    a: str = ""
    b: str = ""
    ratio: str = ""
    target: str = ""
    mark: str = ""


def comparison_row(measure: str, fig: dict, cell: Callable[[dict], str]) -> Row:
    """The row of a compare() result: side A, side B, A / B, and its target if it has one."""
    side_a, side_b = fig["sides"].values()
    if fig["target"] is None:
        return Row(measure, cell(side_a), cell(side_b), ratio(fig["ratio"]), "none", "INFO")
    return Row(measure, cell(side_a), cell(side_b), ratio(fig["ratio"]), fig["target"],
               mark(fig["pass"]))


def latency_row(p: str, fig: dict, sides: tuple[str, str], target: str = "none",
                mark_text: str = "INFO") -> Row:
    """The row of one percentile of a compare_latency() result."""
    return Row(f"{p} ms", ms(fig[p][sides[0]]), ms(fig[p][sides[1]]), ratio(fig[p]["ratio"]),
               target, mark_text)


@dataclass(frozen=True)
class Figure:
    """A figure of the table: the heading that names it and its sides, once, then rows."""
    number: str                # as printed: "1", "1b"
    key: str                   # where its result is in the JSON: "1_throughput"
    selected_by: str           # the BENCH_FIGURES number that measures it
    title: str
    sides: tuple[str, str]     # what side A and side B are
    rows: Callable[[dict], list[Row]]
    # Lines printed below the table (e.g. the slowest tasks of a converge).
    notes: Callable[[dict], list[str]] = field(default=lambda fig: [])


HEADERS = ("#", "figure / measure", "side A", "side B", "A / B", "target", "mark")
INDENT = "  "  # a measure sits under its figure's title


def render(sections: list[tuple[Figure, list[Row]]]) -> str:
    """A fixed-width table: per figure a heading line (number, title, the two sides'
    labels in the side columns), then one line per measure."""
    lines = [HEADERS]
    for figure, rows in sections:
        lines.append((figure.number, figure.title, *figure.sides, "", "", ""))
        lines += [("", INDENT + r.measure, r.a, r.b, r.ratio, r.target, r.mark) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]

    def text(cells) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return "\n".join([text(HEADERS), "  ".join("-" * w for w in widths),
                      *(text(line) for line in lines[1:])])


def table(figures: list[Figure], wanted: set[str], results: dict, errors: dict) -> str:
    """The table of the wanted figures, in the order given, with their notes below it.

    A figure that could not be measured keeps its heading and says ERROR; the error
    itself is printed below the table in full.
    """
    sections, notes = [], []
    for figure in figures:
        if figure.selected_by not in wanted:
            continue
        if figure.key in results:
            sections.append((figure, figure.rows(results[figure.key])))
            notes += figure.notes(results[figure.key])
        elif figure.selected_by in errors:
            sections.append((figure, [Row("not measured", mark="ERROR")]))
    failed = sorted(set(errors) & wanted)
    if failed:
        notes.append("\nErrors:")
        notes += [f"  {key}: {errors[key]}" for key in failed]
    return "\n".join([render(sections), *notes])
