"""Statistics and the plain-text table of bench/bench.py."""

import math
import statistics


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


def mark(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[ok]


# --- formatting --------------------------------------------------------------------------

def _spread(s: dict, fmt: str, unit: str = "") -> str:
    """The median, then the range in brackets when there was more than one run."""
    if not s or s.get("median") is None:
        return "-"
    text = f"{s['median']:{fmt}}{unit}"
    if s["n"] == 1:
        return text
    return f"{text} ({s['min']:{fmt}}-{s['max']:{fmt}})"


def rate(s: dict) -> str:
    """'3,412/s (3,301-3,530)'"""
    return _spread(s, ",.0f", "/s")


def ms(s: dict) -> str:
    """'1.51 ms (1.46-1.55)'"""
    return _spread(s, ".2f", " ms")


def ratio(s: dict) -> str:
    # Three decimals: a ratio of 0.946 must not read as the 0.95 it misses.
    return _spread(s, ".3f")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 60:
        return f"{value:.0f} s ({int(value // 60)}m{value % 60:02.0f}s)"
    return f"{value:.1f} s"


HEADERS = ("figure", "side A", "side B", "ratio / value", "target", "mark")


def render(rows: list[tuple[str, ...]]) -> str:
    """A fixed-width table; rows are tuples of HEADERS' length."""
    table = [HEADERS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(cell.ljust(w) for cell, w in zip(HEADERS, widths)).rstrip(), line]
    for row in rows:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(out)
