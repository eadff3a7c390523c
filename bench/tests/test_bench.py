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
                                 "BENCH_RUN_MOLECULE": "0"})
    assert (cfg.tasks, cfg.figures, cfg.run_molecule) == (2000, {"6", "7"}, False)
    assert cfg.ceiling_args == ["--pool=threads", "-c", "8"]
    assert bench.Config.from_env({}).figures == {"1", "2", "3", "4", "5", "6", "7"}


def test_every_figure_is_measured_and_in_the_table():
    served = set().union(*(m.serves for m in bench.MEASUREMENTS))
    assert served == bench.Config().figures
    assert {figure.selected_by for figure in bench.TABLE} == served
    assert [figure.number for figure in bench.TABLE] == ["1", "1b", "2", "3", "4", "5", "6",
                                                         "7"]


class FakeDemo:
    def describe(self):
        return {"worker": {"node": "celery@demo"}}


@contextmanager
def fake_demo(container, worker_unit, flower_unit, restore_errors):
    yield FakeDemo()


def measured(key, figure):
    return lambda *args: {key: figure}


def broken(*args):
    raise BenchError("the worker did not take the whole batch")


def test_an_error_is_the_error_of_every_wanted_figure_its_measurement_serves(monkeypatch):
    monkeypatch.setattr(bench, "prepared_demo", fake_demo)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"1", "5"}), broken, on_demo=True),
        bench.Measurement(frozenset({"6"}), measured("6_confirms", {}), on_demo=True),
        bench.Measurement(frozenset({"3"}), measured("3_converge", {}), on_demo=False)))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"1", "3", "6"}), results, [])
    assert results["figure_errors"] == {"1": "the worker did not take the whole batch"}
    assert set(results["figures"]) == {"6_confirms", "3_converge"}
    assert results["worker"] == {"node": "celery@demo"}


def test_a_demo_that_cannot_be_prepared_fails_its_figures_only(monkeypatch):
    @contextmanager
    def not_running(*args):
        raise BenchError("container celery-demo is not running (make demo)")
        yield

    monkeypatch.setattr(bench, "prepared_demo", not_running)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"7"}), measured("7_queue_types", {}), on_demo=True),
        bench.Measurement(frozenset({"3"}), measured("3_converge", {}), on_demo=False)))
    results = {"figures": {}, "figure_errors": {}}
    bench.measure_all(bench.Config(figures={"3", "7"}), results, [])
    assert list(results["figure_errors"]) == ["7"]
    assert list(results["figures"]) == ["3_converge"]


def test_the_results_file_and_the_exit_code(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "prepared_demo", fake_demo)
    monkeypatch.setattr(bench, "MEASUREMENTS", (
        bench.Measurement(frozenset({"6"}), broken, on_demo=True),))
    cfg = bench.Config(figures={"6"}, pairs=1, results=tmp_path, stamp="T")
    assert bench.run(cfg) == 1
    saved = json.loads((tmp_path / "T.json").read_text())
    assert saved["figure_errors"] == {"6": "the worker did not take the whole batch"}
    assert saved["restore_errors"] == [] and saved["config"]["figures"] == ["6"]
    assert saved["table"] in capsys.readouterr().out
    assert "Fewer than 3 pairs" in saved["table"]
