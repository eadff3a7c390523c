"""Figure 8's pure parts: the producer's stall, the ledger, the drain read from the
playbook's output, and the figure's result and rows. No container is needed."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import report  # noqa: E402
from figures import rolling_restart as rr  # noqa: E402
from host import BenchError  # noqa: E402


def steady(start: float, end: float, every: float = 0.05, call: float = 0.004):
    """Records of a producer that published at a fixed rate without a hitch."""
    count = round((end - start) / every)  # calls at start, start + every, ... before end
    return [[round(start + i * every, 4), round(start + i * every + call, 4), 1]
            for i in range(count)]


def test_a_steady_producer_stalls_no_longer_than_its_interval():
    records = steady(0.0, 10.0)
    assert rr.longest_stall(records, 3.0, 7.0, 10.0) == pytest.approx(0.05, abs=1e-3)
    assert rr.longest_call(records, 3.0, 7.0) == pytest.approx(0.004)


def test_a_publish_that_waited_for_the_failover_is_the_stall():
    # a call at 5.0 returns at 6.2 (its broker went down); the producer goes on at once
    records = steady(0.0, 5.0) + [[5.0, 6.2, 1]] + steady(6.2, 10.0)
    # from the confirmation before it (4.954) to its own
    assert rr.longest_stall(records, 3.0, 8.0, 10.0) == pytest.approx(1.246, abs=1e-3)
    assert rr.longest_call(records, 3.0, 8.0) == pytest.approx(1.2)


def test_failed_publishes_are_no_confirmations():
    failed = [[t, t + 0.01, 0] for t in (5.0, 5.5, 6.0)]
    records = steady(0.0, 5.0) + failed + steady(6.5, 10.0)
    # from the last confirmation before 5.0 to the first after
    assert rr.longest_stall(records, 3.0, 8.0, 10.0) == pytest.approx(1.554, abs=0.01)
    assert rr.confirmations(failed) == []


def test_the_stall_counts_the_gaps_at_either_end_of_the_restart():
    # nothing confirmed from 2.0 to 4.0, across the restart's start at 3.0
    records = steady(0.0, 2.0) + steady(4.0, 10.0)
    assert rr.longest_stall(records, 3.0, 8.0, 10.0) == pytest.approx(2.05, abs=0.01)
    # ... and across its end
    assert rr.longest_stall(records, 0.5, 3.0, 10.0) == pytest.approx(2.05, abs=0.01)


def test_a_producer_still_waiting_at_the_end_stalls_until_it_was_stopped():
    records = steady(0.0, 5.0)
    assert rr.longest_stall(records, 3.0, 8.0, 11.0) == pytest.approx(11.0 - 4.954, abs=0.01)


def test_no_confirmation_at_all_is_an_error():
    with pytest.raises(BenchError, match="no publish"):
        rr.longest_stall([[1.0, 2.0, 0]], 0.0, 3.0, 4.0)


LINES = ["start c-0 11 1.0", "done c-0 11",
         "start c-1 11 1.1", "start c-1 12 1.5", "done c-1 12", "done c-1 11",
         "start c-2 12 2.0",
         "start c-10 11 2.2", "done c-10 11",
         "start other-0 11 2.3", "done other-0 11"]


def test_the_ledger_counts_lost_and_twice_among_the_tokens_sent():
    assert rr.ledger(LINES, ["c-0", "c-1", "c-2", "c-3"]) == {
        "sent": 4, "completed": 2, "lost": 2, "twice": 1, "executions": 4}
    # a token is matched whole: c-1 is not c-10
    assert rr.ledger(LINES, ["c-10"])["executions"] == 1


def test_the_tasks_that_ran_twice_with_their_publish_and_starts():
    records = [[-1.0, -0.99, 1], [0.5, 1.0, 1], [2.0, 2.01, 1]]
    lines = ["start c-0 11 100.0", "start c-1 11 101.0", "start c-1 12 102.5",
             "start c-2 12 103.0", "start c-2 11 110.0", "start c-20 11 111.0"]
    assert rr.start_times(lines, "c-1") == [101.0, 102.5]
    assert rr.ran_twice(lines, records, "c", 100.0) == [
        {"token": "c-1", "published_s": 0.5, "call_s": 0.5, "started_s": [1.0, 2.5]},
        {"token": "c-2", "published_s": 2.0, "call_s": 0.01, "started_s": [3.0, 10.0]}]


def test_settled_once_every_token_finished_every_run():
    assert rr.settled(LINES, ["c-0", "c-1"])
    assert not rr.settled(LINES, ["c-2"])  # started, not finished
    assert not rr.settled(LINES + ["start c-0 12 3.0"], ["c-0"])  # runs again


DRAINED_LOG = """\
TASK [rabbitmq : Find the command that moves the consumers off this node] ******
Monday 07 December 2026  07:40:01 +0000 (0:00:00.512)       0:00:03.100 *******
ok: [bench-1-broker1 -> bench-1-worker]

TASK [rabbitmq : Move the consumers off this node until they hold no task] *****
Monday 07 December 2026  07:40:02 +0000 (0:00:00.300)       0:00:03.400 *******
changed: [bench-1-broker1 -> bench-1-worker]

TASK [rabbitmq : Stop the broker] **********************************************
changed: [bench-1-broker1]

TASK [rabbitmq : Move the consumers off this node until they hold no task] *****
ok: [bench-1-broker2 -> bench-1-worker]

TASK [rabbitmq : Move the consumers off this node until they hold no task] *****
changed: [bench-1-broker3 -> bench-1-worker]
"""
UNDRAINED_LOG = """\
TASK [rabbitmq : Move the consumers off this node until they hold no task] *****
skipping: [bench-1-broker1]

TASK [rabbitmq : Stop the broker] **********************************************
changed: [bench-1-broker1]
"""


def test_the_drain_read_from_the_playbook_output():
    assert rr.drains(DRAINED_LOG) == {"ran": 3, "paused": 2}
    assert rr.drains(UNDRAINED_LOG) == {"ran": 0, "paused": 0}
    rr.check_drains(rr.DRAINED, rr.drains(DRAINED_LOG), 3)
    rr.check_drains(rr.NOT_DRAINED, rr.drains(UNDRAINED_LOG), 3)


def test_a_side_that_did_not_get_its_drain_setting_is_an_error():
    with pytest.raises(BenchError, match="not drained: the drain ran for 3 of 3"):
        rr.check_drains(rr.NOT_DRAINED, rr.drains(DRAINED_LOG), 3)
    with pytest.raises(BenchError, match="drained: the drain ran for 0 of 3"):
        rr.check_drains(rr.DRAINED, rr.drains(UNDRAINED_LOG), 3)


def test_the_no_drain_side_empties_the_drain_host():
    assert rr.PLAYBOOK_ARGS == {rr.DRAINED: (), rr.NOT_DRAINED: ("-e", "rabbitmq_drain_host=")}


def test_a_run_of_the_producer_in_the_restarts_seconds():
    answer = {"records": steady(0.0, 3.0) + [[3.0, 4.0, 0]] + steady(4.0, 10.0),
              "errors": {"ConnectionResetError": "reset"}}
    run = rr.publish_run(answer, 2.0, 8.0, 10.0)
    assert run["stall_s"] == pytest.approx(1.05, abs=0.01)
    assert run["failed"] == 1 and run["errors"] == answer["errors"]
    assert run["published"] == len(answer["records"])
    assert run["published_during"] == sum(1 for r in answer["records"] if 2.0 <= r[0] <= 8.0)


def restart(seconds, stall, twice=0, lost=0, failed=0, long_twice=0):
    return {"restart_s": seconds, "stall_s": stall, "twice": twice, "lost": lost,
            "failed": failed, "long": {"twice": long_twice}}


RUNS = {rr.DRAINED: [restart(90.0, 1.2), restart(100.0, 1.0, twice=1), restart(80.0, 1.5)],
        rr.NOT_DRAINED: [restart(45.0, 1.1, twice=2, long_twice=2),
                         restart(50.0, 1.0, twice=3, long_twice=2),
                         restart(40.0, 1.4, twice=2, lost=1, long_twice=1)]}


def test_the_result_compares_time_and_stall_and_counts_the_rest():
    fig = rr.result(RUNS, {"brokers": ["b1", "b2", "b3"]})
    assert fig["restart_s"]["sides"]["drained"]["median"] == 90.0
    assert fig["restart_s"]["sides"]["not drained"]["median"] == 45.0
    assert fig["restart_s"]["ratio"]["median"] == 2.0  # 90/45, 100/50, 80/40
    assert fig["restart_s"]["target"] is None
    assert fig["stall_s"]["ratio"]["median"] == 1.071  # 1.2/1.1, 1.0/1.0, 1.5/1.4
    assert fig["twice"] == {"drained": report.summary([0, 1, 0], 0),
                            "not drained": report.summary([2, 3, 2], 0)}
    assert fig["twice_long"] == {"drained": report.summary([0, 0, 0], 0),
                                 "not drained": report.summary([2, 2, 1], 0)}
    assert fig["lost"]["not drained"]["max"] == 1
    assert list(fig["runs"]) == ["drained", "not drained"]
    assert fig["where"] == {"brokers": ["b1", "b2", "b3"]}


def test_the_rows_of_figure_8():
    rows = rr.rows(rr.result(RUNS))
    assert [row.measure for row in rows] == ["restart s", "longest publish stall s",
                                             "tasks run twice", "of them 30 s tasks",
                                             "tasks lost", "publishes failed"]
    assert (rows[0].a, rows[0].b, rows[0].ratio, rows[0].mark) == (
        "90.0 (80.0-100.0)", "45.0 (40.0-50.0)", "2.000 (2.000-2.000)", "INFO")
    assert (rows[1].a, rows[1].b) == ("1.20 (1.00-1.50)", "1.10 (1.00-1.40)")
    assert (rows[2].a, rows[2].b, rows[2].ratio) == ("0 (0-1)", "2 (2-3)", "")
    assert (rows[3].a, rows[3].b) == ("0 (0-0)", "2 (1-2)")


def test_the_table_heads_8_with_its_sides():
    fig = rr.result(RUNS)
    text = report.table([rr.ROLLING_RESTART], {"8"}, {rr.ROLLING_RESTART.key: fig}, {})
    heading = next(line for line in text.splitlines() if line.startswith("8 "))
    assert "rolling restart" in heading and "drained" in heading and "not drained" in heading
    assert "longest publish stall s" in text
