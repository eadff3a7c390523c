"""Each figure's result and table rows, from hand-made runs (no container)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import host  # noqa: E402
import molecule_log  # noqa: E402
import report  # noqa: E402
from figures import (confirms, converge, cycle, latency, monitoring, queue_types,  # noqa: E402
                     throughput)

WORKER = {"pool": "prefork", "concurrency": 2, "prefetch_count": 8}


def drains(*rates):
    return [{"tasks_per_s": rate, "publish_per_s": 9000.0, "worker": WORKER} for rate in rates]


def cells(row: report.Row) -> tuple[str, ...]:
    return (row.measure, row.a, row.b, row.ratio, row.target, row.mark)


def test_the_rotation_shares_the_deployed_runs():
    assert throughput.rotation({"1"}) == ["deployed", "byhand", "ceiling"]
    # figure 5 is drained on hosts of its own, not in this rotation
    assert throughput.rotation({"1", "5"}) == ["deployed", "byhand", "ceiling"]
    assert throughput.rotation({"2"}) == throughput.rotation({"5"}) == []


def test_throughput_and_ceiling_from_one_rotation():
    runs = {"deployed": drains(1000.0, 1100.0, 1200.0), "byhand": drains(1000.0, 1000.0, 1000.0),
            "ceiling": drains(2000.0, 2200.0, 2400.0)}
    figs = throughput.results(runs, {"args": ["--pool=solo"], "env": []})
    assert set(figs) == {"1_throughput", "1b_ceiling"}

    first = figs["1_throughput"]
    assert list(first["runs"]) == ["deployed", "by hand"]
    assert cells(throughput.rows(first)[0]) == (
        "tasks/s", "1,100 (1,000-1,200)", "1,000 (1,000-1,000)", "1.100 (1.000-1.200)",
        ">= 0.95", "PASS")
    ceiling = throughput.rows(figs["1b_ceiling"])[0]
    assert (ceiling.ratio, ceiling.target, ceiling.mark) == ("0.500 (0.500-0.500)", "none",
                                                             "INFO")
    assert figs["1b_ceiling"]["ceiling_config"]["args"] == ["--pool=solo"]


def test_the_monitoring_rotation_alternates_each_figures_sides():
    def names(figures):
        return [monitoring.side_name(*side) for side in monitoring.rotation(figures)]
    assert names({"5"}) == ["5 monitored", "5 unmonitored"]
    assert names({"5b"}) == ["5b monitored", "5b unmonitored"]
    assert names({"5", "5b", "1"}) == ["5 monitored", "5 unmonitored",
                                       "5b monitored", "5b unmonitored"]
    assert names({"1"}) == []


class Counts:
    tasks, tasks_10ms = 20000, 2000


def test_10_ms_tasks_have_a_count_of_their_own():
    assert monitoring.batch(Counts, monitoring.MONITORING) == 20000
    assert monitoring.batch(Counts, monitoring.MONITORING_10MS) == 2000
    assert monitoring.TASKS[monitoring.MONITORING_10MS] == "sleep10"


WHERE = {"hosts": {"broker": "bench-1234abcd-broker", "worker": "bench-1234abcd-worker",
                   "monitor": "bench-1234abcd-monitor"},
         "cpus": {"broker": "1", "worker": "1", "monitor": "0"}}


def test_monitoring_no_op_and_10_ms_tasks_from_one_rotation():
    runs = {"5 monitored": drains(800.0, 990.0, 1200.0),
            "5 unmonitored": drains(1000.0, 1100.0, 1200.0),
            "5b monitored": drains(190.0, 195.0, 200.0),
            "5b unmonitored": drains(200.0, 200.0, 200.0)}
    figs = monitoring.results(runs, WHERE)
    assert list(figs) == ["5_monitoring", "5b_monitoring_10ms"]
    five, five_b = figs["5_monitoring"], figs["5b_monitoring_10ms"]
    assert list(five["runs"]) == ["events on + Flower", "events off"]
    assert (five["task"], five_b["task"]) == ("benchtasks.noop", "benchtasks.sleep10")
    assert five_b["where"]["hosts"]["monitor"] == "bench-1234abcd-monitor"
    # events on / off, pair by pair: 0.8, 0.9, 1.0
    assert cells(monitoring.rows(five)[0]) == (
        "tasks/s", "990 (800-1,200)", "1,100 (1,000-1,200)", "0.900 (0.800-1.000)",
        ">= 0.90", "PASS")
    assert cells(monitoring.rows(five_b)[0]) == (
        "tasks/s", "195 (190-200)", "200 (200-200)", "0.975 (0.950-1.000)", ">= 0.90", "PASS")


def test_monitoring_of_one_figure_alone():
    figs = monitoring.results({"5b monitored": drains(80.0), "5b unmonitored": drains(100.0)})
    assert list(figs) == ["5b_monitoring_10ms"]
    assert monitoring.rows(figs["5b_monitoring_10ms"])[0].mark == "MISS"


def test_the_table_heads_5_and_5b_with_their_own_titles():
    figs = monitoring.results({"5 monitored": drains(80.0), "5 unmonitored": drains(100.0),
                               "5b monitored": drains(99.0), "5b unmonitored": drains(100.0)})
    text = report.table([monitoring.MONITORING, monitoring.MONITORING_10MS], {"5", "5b"},
                        figs, {})
    lines = text.splitlines()
    assert lines[2].startswith("5   cost of monitoring, no-op tasks, Flower on its own host")
    assert "events on + Flower" in lines[2] and "events off" in lines[2]
    assert lines[4].startswith("5b  cost of monitoring, 10 ms tasks, Flower on its own host")
    assert lines[3].split() == ["tasks/s", "80", "100", "0.800", ">=", "0.90", "MISS"]
    assert lines[5].split() == ["tasks/s", "99", "100", "0.990", ">=", "0.90", "PASS"]
    only_5b = report.table([monitoring.MONITORING, monitoring.MONITORING_10MS], {"5b"}, figs, {})
    assert "no-op tasks" not in only_5b


def latency_run(p50, p90, p99):
    return {"p50": p50, "p90": p90, "p99": p99, "min": 1.0, "max": 9.0, "count": 100}


def test_latency_rows_hold_a_target_on_p50_and_p99_only():
    fig = latency.result({"deployed": [latency_run(2.0, 3.0, 5.0)],
                          "byhand": [latency_run(2.0, 2.0, 4.0)]})
    assert fig["pass"] is False  # p99: 5 / 4
    assert [cells(row) for row in latency.rows(fig)] == [
        ("p50 ms", "2.00", "2.00", "1.000", "<= 1.10", "PASS"),
        ("p90 ms", "3.00", "2.00", "1.500", "none", "INFO"),
        ("p99 ms", "5.00", "4.00", "1.250", "<= 1.10", "MISS"),
    ]


def converge_run(seconds, changed):
    return {"seconds": seconds, "changed": changed, "tasks": 120,
            "slowest": [{"task": "apt: install", "seconds": 61.5}]}


def test_converge_second_run_against_the_cold_one():
    fig = converge.result(converge_run(400.0, 80), converge_run(60.0, 0))
    assert fig["ratio"] == 0.15 and fig["pass"] is True
    assert [cells(row) for row in converge.rows(fig)] == [
        ("wall time", "60 s (1m00s)", "400 s (6m40s)", "0.150", "<= 0.35", "PASS"),
        ("tasks changed", "0", "80", "", "0 the second time", "PASS"),
        ("CPU, controller", "-", "-", "", "none", "INFO"),
        ("CPU, host", "-", "-", "", "none", "INFO"),
    ]
    assert "      61.5 s  apt: install" in converge.notes(fig)


def test_converge_cpu_of_each_side_and_their_ratio():
    second = dict(converge_run(60.0, 0), cpu_controller=15.0, cpu_host=12.0)
    cold = dict(converge_run(400.0, 80), cpu_controller=30.0, cpu_host=None)
    assert [cells(row) for row in converge.rows(converge.result(cold, second))][2:] == [
        ("CPU, controller", "15.0 s", "30.0 s", "0.500", "none", "INFO"),
        ("CPU, host", "12.0 s", "-", "", "none", "INFO"),
    ]


def test_a_second_converge_that_changes_something_misses():
    fig = converge.result(converge_run(400.0, 80), converge_run(60.0, 2))
    assert fig["pass"] is False
    assert [row.mark for row in converge.rows(fig)] == ["PASS", "MISS", "INFO", "INFO"]


def step_log(seconds_each: int) -> str:
    lines, clock = [], 0
    for step in ("create", "converge"):
        for message in ("Executing", "Executed: Successful"):
            lines.append(f"2026-11-25T10:{clock // 60:02d}:{clock % 60:02d}.000 "
                         f"INFO     [default > {step}] {message}")
            clock += seconds_each if message == "Executing" else 0
    return "\n".join(lines)


def test_molecule_rows_from_a_stamped_log():
    fig = cycle.result({"scenario": "default"}, molecule_log.parse(step_log(30)), wall=65.0)
    assert [cells(row) for row in cycle.rows(fig)] == [
        ("wall time", "65 s (1m05s)", "", "", "<= 300 s", "PASS"),
        ("steps", "2, all succeeded", "", "", "", ""),
    ]
    assert cycle.notes(fig)[0] == "\n4 molecule steps (line stamps, total measured around " \
                                  "the process):"


def test_molecule_skipped_and_molecule_failed():
    skipped = cycle.rows({"skipped": "set BENCH_MOLECULE_LOG"})
    assert [(row.a, row.mark) for row in skipped] == [("not measured", "SKIP")]
    failed = cycle.result({"exit_code": 2}, molecule_log.parse(step_log(30)), wall=65.0)
    assert [row.mark for row in cycle.rows(failed)] == ["MISS", ""]
    assert cycle.rows(failed)[1].a == "2, FAILED"


def publishes(*rates):
    return [{"tasks_per_s": rate, "queue_type": "quorum"} for rate in rates]


def test_publish_rate_with_and_without_confirms():
    fig = confirms.result({"confirms on": publishes(1000.0, 900.0, 1100.0),
                           "confirms off": publishes(4000.0, 4500.0, 5000.0)})
    assert fig["queue"] == "bench-publish"
    assert list(fig["sides"]) == ["confirms on", "confirms off"]
    assert [cells(row) for row in confirms.rows(fig)] == [
        ("published tasks/s", "1,000 (900-1,100)", "4,500 (4,000-5,000)",
         "0.220 (0.200-0.250)", "none", "INFO")]


def queue_run(rate, p50, p99):
    return {"drain": {"tasks_per_s": rate}, "worker": WORKER,
            "latency": {"p50": p50, "p90": p99, "p99": p99}}


def test_quorum_against_classic_throughput_and_latency():
    fig = queue_types.result({"quorum": [queue_run(1500.0, 3.0, 9.0)],
                              "classic": [queue_run(2000.0, 2.0, 6.0)]})
    assert fig["queues"] == {"quorum": "bench-quorum", "classic": "bench-classic"}
    assert [cells(row) for row in queue_types.rows(fig)] == [
        ("tasks/s", "1,500", "2,000", "0.750", "none", "INFO"),
        ("p50 ms", "3.00", "2.00", "1.500", "none", "INFO"),
        ("p99 ms", "9.00", "6.00", "1.500", "none", "INFO"),
    ]


def test_the_new_figures_have_queues_of_their_own():
    # The deployed worker owns `celery`; a queue of another type under that name would be
    # refused by RabbitMQ.
    names = [confirms.QUEUE, *queue_types.QUEUES.values()]
    assert len(set(names)) == 3 and "celery" not in names
    assert all(name.startswith("bench-") for name in names)


def test_the_events_off_side_drops_the_flag_that_switches_them_on():
    argv = ["/opt/app/venv/bin/celery", "-A", "test_celery", "worker", "--loglevel=INFO",
            "--concurrency=2", "--task-events", "--hostname=celery@%h"]
    assert monitoring.without_events(argv) == [
        "/opt/app/venv/bin/celery", "-A", "test_celery", "worker", "--loglevel=INFO",
        "--concurrency=2", "--hostname=celery@%h"]
    assert monitoring.without_events(["celery", "worker", "-E", "--events"]) == [
        "celery", "worker"]


def test_the_state_of_task_events_from_the_worker_banner():
    assert monitoring.events_at_start(".> task events: ON") == "ON"
    assert monitoring.events_at_start(
        ".> task events: OFF (enable -E to monitor tasks in this worker)") == "OFF"
    assert monitoring.events_at_start("") is None


class BannerHost:
    def __init__(self, line):
        self.line = line

    def last_journal_line(self, unit, containing):
        assert containing == "task events:"
        return self.line


class Worker:
    unit = "bench-unmonitored"


def test_an_events_off_side_that_started_with_events_on_is_an_error(monkeypatch):
    monkeypatch.setattr(monitoring, "drain", lambda *args: {"tasks_per_s": 1.0})

    class Demo:
        host = BannerHost(".> task events: ON")

    with pytest.raises(host.BenchError, match="started with task events ON"):
        monitoring.checked_drain(Demo, 10, Worker, False, "noop")
    # the events-on side only records it: Flower switches events on remotely anyway
    on = monitoring.checked_drain(Demo, 10, Worker, True, "noop")
    assert on["task_events_at_start"] == "ON"
    Demo.host = BannerHost(".> task events: OFF (enable -E to monitor tasks in this worker)")
    off = monitoring.checked_drain(Demo, 10, Worker, False, "noop")
    assert off["task_events_at_start"] == "OFF"
