import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import report  # noqa: E402

THREE_RUNS = {"median": 3412.4, "min": 3301.2, "max": 3530.9, "n": 3}
ONE_RUN = {"median": 1.5123, "min": 1.5123, "max": 1.5123, "n": 1}


def test_a_rate_shows_the_median_and_the_range():
    assert report.rate(THREE_RUNS) == "3,412 (3,301-3,531)"


def test_one_run_has_no_range():
    assert report.ms(ONE_RUN) == "1.51"
    assert report.ratio(ONE_RUN) == "1.512"


def test_a_ratio_keeps_three_decimals_so_a_near_miss_shows():
    assert (report.ratio({"median": 0.946, "min": 0.94, "max": 0.951, "n": 3})
            == "0.946 (0.940-0.951)")


def test_a_missing_figure_is_a_dash():
    assert report.rate({}) == report.ms({"median": None}) == "-"


def test_compare_quotes_the_median_of_the_pairs_ratios():
    fig = report.compare([100, 300, 200], [100, 100, 400], ("on", "off"), at_least=0.9)
    assert list(fig["sides"]) == ["on", "off"]
    assert fig["sides"]["on"]["median"] == 200
    # pairs: 1.0, 3.0, 0.5; the ratio of the medians (200 / 100) is another figure
    assert fig["ratio"]["median"] == 1.0
    assert fig["ratio_of_medians"] == 2.0
    assert fig["target"] == ">= 0.90" and fig["pass"] is True


def test_compare_without_a_target_is_information():
    fig = report.compare([1.0], [2.0], ("a", "b"))
    assert fig["target"] is None and fig["pass"] is None
    row = report.comparison_row("tasks/s", fig, report.rate)
    assert (row.target, row.mark) == ("none", "INFO")


def test_a_latency_run_and_its_comparison():
    run = report.latency_run([float(v) for v in range(1, 101)])
    assert (run["p50"], run["p90"], run["p99"], run["count"]) == (50, 90, 99, 100)
    fig = report.compare_latency([run, run], [{"p50": 25}, {"p50": 100}], ("x", "y"), ["p50"])
    assert fig["p50"]["x"]["median"] == 50
    assert fig["p50"]["ratio"]["values"] == [2.0, 0.5]


def figure(number="1", key="1_x", selected_by="1", sides=("deployed", "by hand"), rows=None,
           notes=lambda fig: []):
    rows = rows or (lambda fig: [report.Row("tasks/s", "3,412", "3,300", "1.034",
                                            ">= 0.95", "PASS")])
    return report.Figure(number, key, selected_by, f"figure {number}", sides, rows, notes)


def test_the_layout_names_each_figure_and_its_sides_once():
    latency = figure("2", "2_x", "2", rows=lambda fig: [
        report.Row("p50 ms", "1.51", "1.49", "1.013", "<= 1.10", "PASS"),
        report.Row("p99 ms", "3.02", "3.10", "0.974", "<= 1.10", "PASS")])
    text = report.render([(figure(), figure().rows({})), (latency, latency.rows({}))])
    lines = text.splitlines()
    assert lines[0].split() == ["#", "figure", "/", "measure", "side", "A", "side", "B",
                                "A", "/", "B", "target", "mark"]
    assert set(lines[1]) == {"-", " "}
    # The sides are named in each figure's heading line, not in its measures' cells.
    assert text.count("deployed") == text.count("by hand") == 2
    assert lines[2].split() == ["1", "figure", "1", "deployed", "by", "hand"]
    assert lines[5].split()[:3] == ["p50", "ms", "1.51"]
    # Every column starts where its header does.
    for header in ("side A", "side B", "A / B", "target", "mark"):
        column = lines[0].index(header)
        assert lines[3][column - 1] == " " and lines[3][column] != " "


def test_the_table_keeps_the_order_given_and_only_the_wanted_figures():
    figures = [figure("1", "1_x", "1"), figure("1b", "1b_x", "1"), figure("2", "2_x", "2")]
    results = {"1_x": {}, "1b_x": {}, "2_x": {}}
    text = report.table(figures, {"1"}, results, {})
    assert [line.split()[0] for line in text.splitlines()[2:]] == ["1", "tasks/s", "1b",
                                                                   "tasks/s"]


def test_a_figure_not_measured_keeps_its_heading_and_the_error_is_below():
    text = report.table([figure("1", "1_x", "1", notes=lambda fig: ["never printed"])],
                        {"1"}, {}, {"1": "driver drain: the worker did not take the batch"})
    lines = text.splitlines()
    assert lines[2].split()[:2] == ["1", "figure"]
    assert lines[3].split() == ["not", "measured", "ERROR"]
    assert "never printed" not in text
    assert lines[-2:] == ["Errors:", "  1: driver drain: the worker did not take the batch"]


def test_notes_follow_the_table():
    fig = figure(notes=lambda result: [f"\nslowest: {result['slowest']}"])
    text = report.table([fig], {"1"}, {"1_x": {"slowest": "apt"}}, {})
    assert text.endswith("\n\nslowest: apt")
