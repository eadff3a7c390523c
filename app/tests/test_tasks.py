import os
import socket
import subprocess
import sys
import time

import pytest

from test_celery import tasks


def test_longtime_add_returns_the_sum_after_sleeping(monkeypatch):
    monkeypatch.setenv("LONGTIME_ADD_SECONDS", "0.2")
    started = time.monotonic()
    assert tasks.longtime_add.apply(args=(1, 2)).get() == 3
    assert time.monotonic() - started >= 0.2


def test_longtime_add_sleeps_five_seconds_by_default(monkeypatch):
    monkeypatch.delenv("LONGTIME_ADD_SECONDS", raising=False)
    assert tasks.longtime_seconds() == 5.0


def test_negative_sleep_is_refused(monkeypatch):
    monkeypatch.setenv("LONGTIME_ADD_SECONDS", "-1")
    with pytest.raises(ValueError, match="LONGTIME_ADD_SECONDS"):
        tasks.longtime_seconds()


def test_record_run_notes_start_and_finish(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_CELERY_RECORD_DIR", str(tmp_path))
    assert tasks.record_run.apply(args=("t-1", 0.05)).get() == "t-1"
    assert tasks.record_run.apply(args=("t-2", 0)).get() == "t-2"
    lines = [line.split() for line in (tmp_path / "runs.log").read_text().splitlines()]
    assert [line[:2] for line in lines] == [["start", "t-1"], ["done", "t-1"], ["start", "t-2"], ["done", "t-2"]]
    # a start carries the time it began (the migration test checks countdowns by it), the
    # task's id and whether the broker had delivered it before (not, here)
    assert abs(float(lines[0][3]) - time.time()) < 60
    assert lines[0][4] != lines[2][4] and all(len(line[4]) == 36 for line in (lines[0], lines[2]))
    assert lines[0][5] == "0"


def test_record_run_without_a_directory_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("TEST_CELERY_RECORD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tasks.record_run.apply(args=("t", 0)).get() == "t"
    assert list(tmp_path.iterdir()) == []


def test_record_crash_notes_its_start_and_takes_its_process_down(tmp_path):
    # In a process of its own, as a worker's pool process runs it.
    code = "from test_celery import tasks; tasks.record_crash.apply(args=('p-1',)); print('survived')"
    ran = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TEST_CELERY_RECORD_DIR": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "survived" not in ran.stdout
    assert [line.split()[:2] for line in (tmp_path / "runs.log").read_text().splitlines()] == [["start", "p-1"]]


def test_heartbeat_names_the_host_that_ran_it():
    assert tasks.heartbeat.apply().get() == f"heartbeat from {socket.gethostname()}"
