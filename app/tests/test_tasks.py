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
