"""The run as a whole: settings, which figures are measured, errors, the results file."""

import json
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench  # noqa: E402
from host import BenchError  # noqa: E402


def test_settings_from_the_environment():
    cfg = bench.Config.from_env({"BENCH_TASKS": "2000", "BENCH_FIGURES": "6, 7",
                                 "BENCH_CEILING_ARGS": "--pool=threads -c 8",
                                 "BENCH_RUN_MOLECULE": "0", "BENCH_TASKS_10MS": "300",
                                 "BENCH_MONITOR_CPUS": ""})
    assert (cfg.tasks, cfg.figures, cfg.run_molecule) == (2000, {"6", "7"}, False)
    assert cfg.ceiling_args == ["--pool=threads", "-c", "8"]
    assert (cfg.tasks_10ms, cfg.monitor_cpus) == (300, "")
    default = bench.Config.from_env({})
    assert default.figures == {"1", "2", "3", "4", "5", "5b", "6", "7"}
    assert (default.tasks_10ms, default.monitor_cpus) == (2000, "0")


def test_every_figure_is_measured_and_in_the_table():
    served = set().union(*(m.serves for m in bench.MEASUREMENTS))
    # Figure 8 runs only when named (BENCH_FIGURES=8): it takes a cluster and its time.
    assert served == bench.Config().figures | {"8"}
    assert {figure.selected_by for figure in bench.TABLE} == served
    assert [figure.number for figure in bench.TABLE] == ["1", "1b", "2", "3", "4", "5", "5b",
                                                         "6", "7", "8"]


def test_figure_8_needs_no_demo_and_has_its_settings(monkeypatch):
    assert bench.places_needed({"8"}) == {"cluster"}
    monkeypatch.setenv("BENCH_FIGURES", "8")
    assert bench.main(["--needs-demo"]) == 1
    cfg = bench.Config.from_env({"BENCH_RESTART_EVERY_MS": "100", "BENCH_RESTART_LONG": "0"})
    assert (cfg.restart_every_ms, cfg.restart_long) == (100, 0)
    assert (bench.Config().restart_every_ms, bench.Config().restart_long) == (50, 2)


def test_figure_5_needs_no_demo():
    assert bench.places_needed({"5", "5b"}) == {"layout"}
    assert bench.places_needed({"3", "4"}) == {"own"}
    assert "demo" in bench.places_needed({"1", "5"})
    assert bench.places_needed(bench.Config().figures) == {"demo", "layout", "own"}


def test_needs_demo_for_run_sh(monkeypatch):
    monkeypatch.setenv("BENCH_FIGURES", "5,5b")
    assert bench.main(["--needs-demo"]) == 1
    monkeypatch.setenv("BENCH_FIGURES", "5,7")
    assert bench.main(["--needs-demo"]) == 0


class FakeDemo:
    def __init__(self, node="celery@demo"):
        self.node = node

    def describe(self):
        return {"worker": {"node": self.node}}


@contextmanager
def fake_demo(container, worker_unit, flower_unit, restore_errors):
    yield FakeDemo()


@contextmanager
def fake_layout(image, monitor_cpus, worker_unit, flower_unit, log, teardown_errors):
    yield FakeDemo("celery@bench-1234abcd-worker")


def measured(key, figure):
    return lambda *args: {key: figure}


def broken(*args):
    raise BenchError("the worker did not take the whole batch")


def test_an_error_is_the_error_of_every_wanted_figure_its_measurement_serves(monkeypatch):
    monkeypatch.setattr(bench, "prepared_demo", fake_demo)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"1", "2"}), broken, on="demo"),
        bench.Measurement(frozenset({"6"}), measured("6_confirms", {}), on="demo"),
        bench.Measurement(frozenset({"3"}), measured("3_converge", {}), on="own")))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"1", "3", "6"}), results, [])
    assert results["figure_errors"] == {"1": "the worker did not take the whole batch"}
    assert set(results["figures"]) == {"6_confirms", "3_converge"}
    assert results["worker"] == {"node": "celery@demo"}


def test_figure_5_runs_on_the_layout_and_says_so_apart(monkeypatch):
    def no_demo(*args):
        raise AssertionError("the demo is not used for figure 5")

    monkeypatch.setattr(bench, "prepared_demo", no_demo)
    monkeypatch.setattr(bench, "prepared_layout", fake_layout)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"1"}), broken, on="demo"),
        bench.Measurement(frozenset({"5", "5b"}), measured("5_monitoring", {}), on="layout")))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"5"}), results, [])
    assert results["figure_errors"] == {}
    assert list(results["figures"]) == ["5_monitoring"]
    assert results["layout"] == {"worker": {"node": "celery@bench-1234abcd-worker"}}
    assert "worker" not in results


def test_a_layout_that_cannot_be_made_fails_5_and_5b_only(monkeypatch):
    @contextmanager
    def no_layout(*args):
        raise BenchError("converging the layout failed (exit 2)")
        yield

    monkeypatch.setattr(bench, "prepared_demo", fake_demo)
    monkeypatch.setattr(bench, "prepared_layout", no_layout)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"5", "5b"}), measured("5_monitoring", {}), on="layout"),
        bench.Measurement(frozenset({"6"}), measured("6_confirms", {}), on="demo")))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"5", "5b", "6"}), results, [])
    assert results["figure_errors"] == {"5": "converging the layout failed (exit 2)",
                                        "5b": "converging the layout failed (exit 2)"}
    assert list(results["figures"]) == ["6_confirms"]


def test_a_demo_that_cannot_be_prepared_fails_its_figures_only(monkeypatch):
    @contextmanager
    def not_running(*args):
        raise BenchError("container celery-demo is not running (make demo)")
        yield

    monkeypatch.setattr(bench, "prepared_demo", not_running)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"7"}), measured("7_queue_types", {}), on="demo"),
        bench.Measurement(frozenset({"3"}), measured("3_converge", {}), on="own")))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"3", "7"}), results, [])
    assert list(results["figure_errors"]) == ["7"]
    assert list(results["figures"]) == ["3_converge"]


def test_the_results_file_and_the_exit_code(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "prepared_demo", fake_demo)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"6"}), broken, on="demo"),))
    cfg = bench.Config(figures={"6"}, pairs=1, results=tmp_path, stamp="T")
    assert bench.run(cfg) == 1
    saved = json.loads((tmp_path / "T.json").read_text())
    assert saved["figure_errors"] == {"6": "the worker did not take the whole batch"}
    assert saved["restore_errors"] == [] and saved["config"]["figures"] == ["6"]
    assert saved["table"] in capsys.readouterr().out
    assert "Fewer than 3 pairs" in saved["table"]
