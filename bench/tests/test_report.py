import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import report  # noqa: E402

THREE_RUNS = {"median": 3412.4, "min": 3301.2, "max": 3530.9, "n": 3}
ONE_RUN = {"median": 1.5123, "min": 1.5123, "max": 1.5123, "n": 1}


def test_a_rate_shows_the_median_and_the_range():
    assert report.rate(THREE_RUNS) == "3,412/s (3,301-3,531)"


def test_one_run_has_no_range():
    assert report.ms(ONE_RUN) == "1.51 ms"
    assert report.ratio(ONE_RUN) == "1.512"


def test_a_ratio_keeps_three_decimals_so_a_near_miss_shows():
    assert report.ratio({"median": 0.946, "min": 0.94, "max": 0.951, "n": 3}) == "0.946 (0.940-0.951)"


def test_a_missing_figure_is_a_dash():
    assert report.rate({}) == report.ms({"median": None}) == "-"
