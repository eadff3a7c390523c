import pytest

from test_celery.celery import DEFAULT_RESULT_BACKEND, make_app


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


def test_the_app_sets_none_of_the_deployments_settings():
    """Queue type, confirms, late acks, prefetch and TLS are left at Celery's defaults: the
    deployment (celery_stack) owns them, for this app as for any other."""
    conf = make_app({}).conf
    assert conf.task_default_queue_type == "classic"
    assert conf.task_acks_late is False
    assert conf.broker_transport_options == {}
    assert not conf.broker_use_ssl


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
