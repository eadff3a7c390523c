import pytest

from test_celery.celery import DEFAULT_RESULT_BACKEND, env_flag, env_int, make_app


@pytest.fixture(autouse=True)
def _no_process_settings(monkeypatch):
    # Celery itself prefers these two variables over what make_app is given; the suite's
    # own values (conftest) must not hide what these tests check.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)


def test_broker_and_backend_come_from_the_environment():
    app = make_app({"CELERY_BROKER_URL": "amqp://u:p@broker:5672/vh", "CELERY_RESULT_BACKEND": "rpc://"})
    assert app.conf.broker_url == "amqp://u:p@broker:5672/vh"
    assert app.conf.result_backend == "rpc://"


def test_result_backend_defaults_to_rpc():
    app = make_app({"CELERY_BROKER_URL": "amqp://broker//"})
    assert app.conf.result_backend == DEFAULT_RESULT_BACKEND == "rpc://"


def test_tasks_module_is_included():
    assert "test_celery.tasks" in make_app({}).conf.include


def test_delivery_defaults_lose_nothing_on_a_crash():
    conf = make_app({}).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_delivery_settings_can_be_turned_off():
    conf = make_app({
        "CELERY_TASK_ACKS_LATE": "false",
        "CELERY_TASK_REJECT_ON_WORKER_LOST": "no",
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "4",
    }).conf
    assert conf.task_acks_late is False
    assert conf.task_reject_on_worker_lost is False
    assert conf.worker_prefetch_multiplier == 4


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_unclear_flag_is_an_error_naming_the_variable(value):
    with pytest.raises(ValueError, match="CELERY_TASK_ACKS_LATE must be true or false"):
        env_flag({"CELERY_TASK_ACKS_LATE": value}, "CELERY_TASK_ACKS_LATE", True)


@pytest.mark.parametrize(("value", "message"), [("abc", "whole number"), ("-1", "at least 0")])
def test_bad_number_is_an_error_naming_the_variable(value, message):
    with pytest.raises(ValueError, match=f"CELERY_WORKER_PREFETCH_MULTIPLIER must be .*{message}|{message}"):
        env_int({"CELERY_WORKER_PREFETCH_MULTIPLIER": value}, "CELERY_WORKER_PREFETCH_MULTIPLIER", 1)


def test_queues_survive_a_node_and_publishes_are_confirmed_by_default():
    conf = make_app({}).conf
    assert conf.task_default_queue == "celery"
    assert conf.task_default_queue_type == "quorum"
    # Native delayed delivery (countdown/ETA on quorum queues) cannot route through a
    # direct exchange.
    assert conf.task_default_exchange_type == "topic"
    assert conf.broker_transport_options == {"confirm_publish": True}


def test_classic_queues_keep_the_direct_exchange():
    conf = make_app({"CELERY_TASK_DEFAULT_QUEUE_TYPE": "Classic", "CELERY_BROKER_CONFIRM_PUBLISH": "false",
                     "CELERY_TASK_DEFAULT_QUEUE": "orders"}).conf
    assert conf.task_default_queue_type == "classic"
    assert conf.task_default_exchange_type == "direct"
    assert conf.task_default_queue == "orders"
    assert conf.broker_transport_options == {"confirm_publish": False}


def test_unknown_queue_type_is_an_error_naming_the_variable():
    with pytest.raises(ValueError, match="CELERY_TASK_DEFAULT_QUEUE_TYPE must be one of quorum, classic, got 'stream'"):
        make_app({"CELERY_TASK_DEFAULT_QUEUE_TYPE": "stream"})


def test_beat_sends_the_heartbeat_every_minute_by_default():
    schedule = make_app({}).conf.beat_schedule
    assert schedule == {"heartbeat": {"task": "test_celery.tasks.heartbeat", "schedule": 60.0,
                                      "options": {"expires": 60.0}}}


def test_the_heartbeats_interval_comes_from_the_environment_and_zero_turns_it_off():
    assert make_app({"TEST_CELERY_HEARTBEAT_SECONDS": "10"}).conf.beat_schedule["heartbeat"]["schedule"] == 10.0
    assert make_app({"TEST_CELERY_HEARTBEAT_SECONDS": "0"}).conf.beat_schedule == {}


def test_a_bad_heartbeat_interval_is_an_error_naming_the_variable():
    with pytest.raises(ValueError, match="TEST_CELERY_HEARTBEAT_SECONDS must be a whole number"):
        make_app({"TEST_CELERY_HEARTBEAT_SECONDS": "often"})
