"""The deployment's settings reach any app, however it configures itself.

celery_stack (roles/celery_app/files/celery-stack) is what every unit runs with
``celery -A celery_stack.app``; these tests build apps the ways real projects do (a config
module, conf.update, a Django-style namespace, old setting names, nothing at all) and
read back what Celery itself will use: the effective settings, the queue and exchange it
declares, the options a task is bound with, and a real round trip through a worker.
"""

import os
import ssl
import subprocess
import sys
import textwrap
import threading
import types
import uuid
from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "roles" / "celery_app" / "files" / "celery-stack"))

from celery_stack import OWNED_VARIABLES, SettingsError, apply, deployment_settings  # noqa: E402
from celery_stack.loading import AppNotFound, load  # noqa: E402

TLS_ENV = {"CELERY_BROKER_CA_FILE": "/etc/myapp/broker-ca.pem", "CELERY_BROKER_TLS_NAME": "rabbitmq"}


def module(name: str, source: str) -> types.ModuleType:
    """A module importable by name for this test only."""
    mod = types.ModuleType(name)
    exec(textwrap.dedent(source), mod.__dict__)  # noqa: S102 - the test's own source
    sys.modules[name] = mod
    return mod


@pytest.fixture
def name():
    """A unique module name, removed from sys.modules afterwards."""
    made = f"ownapp_{uuid.uuid4().hex[:8]}"
    yield made
    for key in [key for key in sys.modules if key == made or key.startswith(made + ".")]:
        del sys.modules[key]


def assert_owned(conf, queue="celery"):
    assert conf.task_default_queue == queue
    assert conf.task_default_queue_type == "quorum"
    assert conf.task_default_exchange_type == "topic"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["confirm_publish"] is True


def test_a_config_module_of_the_apps_own_loses_to_the_deployment(name):
    module(f"{name}_config", """
        task_default_queue_type = "classic"
        task_acks_late = False
        task_reject_on_worker_lost = False
        worker_prefetch_multiplier = 8
        broker_transport_options = {"confirm_publish": False, "max_retries": 3}
        task_serializer = "json"
        timezone = "Europe/Paris"
    """)
    app = Celery(name)
    app.config_from_object(f"{name}_config")
    apply(app, {})
    assert_owned(app.conf)
    # What the deployment does not own stays the app's, its own transport options included.
    assert app.conf.timezone == "Europe/Paris"
    assert app.conf.broker_transport_options == {"confirm_publish": True, "max_retries": 3}


def test_conf_update_before_and_after_configuration_loses_too():
    early = Celery("early")
    early.conf.update(task_acks_late=False, task_default_queue_type="classic")
    assert_owned(apply(early, {}).conf)

    late = Celery("late")
    assert late.conf.task_acks_late is False  # reading configures the app
    late.conf.update(worker_prefetch_multiplier=0)
    assert_owned(apply(late, {}).conf)


def test_an_app_that_sets_nothing_gets_every_setting():
    assert_owned(apply(Celery("plain"), {}).conf)


def test_django_style_namespaced_settings_lose_too(name):
    module(f"{name}_settings", """
        CELERY_TASK_ACKS_LATE = False
        CELERY_WORKER_PREFETCH_MULTIPLIER = 4
        CELERY_TASK_DEFAULT_QUEUE_TYPE = "classic"
    """)
    app = Celery(name)
    app.config_from_object(f"{name}_settings", namespace="CELERY")
    assert_owned(apply(app, {}).conf)


def test_old_setting_names_lose_too(name):
    module(f"{name}_old", """
        CELERY_ACKS_LATE = False
        CELERYD_PREFETCH_MULTIPLIER = 4
    """)
    app = Celery(name)
    app.config_from_object(f"{name}_old")
    conf = apply(app, {}).conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1


def test_a_task_module_that_changes_the_configuration_at_import_is_overruled(name, tmp_path, monkeypatch):
    (tmp_path / f"{name}_tasks.py").write_text(textwrap.dedent(f"""
        import sys
        app = sys.modules["{name}_app"].app
        app.conf.update(task_acks_late=False)

        @app.task
        def work():
            return 1
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = Celery(name, include=[f"{name}_tasks"])
    sys.modules[f"{name}_app"] = types.SimpleNamespace(app=app)
    apply(app, {})
    # What `celery worker` does: import the task modules, then read its settings.
    worker = app.Worker(hostname=f"{name}@test", pool="solo", quiet=True)
    assert worker.prefetch_multiplier == 1
    assert app.conf.task_acks_late is True
    # Bound at finalize, the task carries the deployment's delivery options.
    task = app.tasks[f"{name}_tasks.work"]
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)


def test_every_queue_the_app_declares_is_a_quorum_queue_on_a_topic_exchange():
    app = apply(Celery("queues"), {"CELERY_TASK_DEFAULT_QUEUE": "jobs"})
    default = app.amqp.queues["jobs"]
    assert default.queue_arguments == {"x-queue-type": "quorum"}
    assert default.exchange.type == "topic"
    # A queue only a worker's -Q names (a worker instance's queue) is declared the same way.
    missing = app.amqp.queues["reports"]
    assert missing.queue_arguments == {"x-queue-type": "quorum"}
    assert missing.exchange.type == "topic"


def test_classic_queues_keep_direct_exchanges_and_the_other_switches_turn_off():
    conf = apply(Celery("classic"), {
        "CELERY_TASK_DEFAULT_QUEUE_TYPE": "Classic", "CELERY_BROKER_CONFIRM_PUBLISH": "false",
        "CELERY_TASK_ACKS_LATE": "no", "CELERY_TASK_REJECT_ON_WORKER_LOST": "off",
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "4",
    }).conf
    assert conf.task_default_queue_type == "classic"
    assert conf.task_default_exchange_type == "direct"
    assert conf.broker_transport_options == {"confirm_publish": False}
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (False, False, 4)


def test_tls_checks_the_deployments_ca_and_name_and_keeps_the_apps_client_certificate():
    app = Celery("tls")
    app.conf.broker_use_ssl = {"certfile": "/srv/client.pem", "keyfile": "/srv/client.key", "cert_reqs": ssl.CERT_NONE}
    conf = apply(app, TLS_ENV).conf
    assert conf.broker_use_ssl == {"certfile": "/srv/client.pem", "keyfile": "/srv/client.key",
                                   "ca_certs": "/etc/myapp/broker-ca.pem", "cert_reqs": ssl.CERT_REQUIRED,
                                   "server_hostname": "rabbitmq"}


def test_without_a_ca_the_apps_tls_options_are_left_alone():
    app = Celery("notls")
    app.conf.broker_use_ssl = {"ca_certs": "/srv/own-ca.pem"}
    assert apply(app, {}).conf.broker_use_ssl == {"ca_certs": "/srv/own-ca.pem"}
    assert "broker_use_ssl" not in deployment_settings({})


def test_time_limits_and_worker_bounds_win_over_the_apps_own():
    app = Celery("bounds")
    app.conf.update(task_time_limit=None, task_soft_time_limit=7200, worker_max_memory_per_child=None)
    conf = apply(app, {"CELERY_TASK_TIME_LIMIT": "45", "CELERY_TASK_SOFT_TIME_LIMIT": "0",
                       "CELERY_STACK_MAX_TASKS_PER_CHILD": "100", "CELERY_STACK_MAX_MEMORY_PER_CHILD": "204800"}).conf
    assert (conf.task_time_limit, conf.task_soft_time_limit) == (45, None)
    assert (conf.worker_max_tasks_per_child, conf.worker_max_memory_per_child) == (100, 204800)
    # A producer elsewhere that sets none of them leaves every limit off, as Celery does.
    unset = deployment_settings({})
    assert [unset[k] for k in ("task_time_limit", "task_soft_time_limit", "worker_max_tasks_per_child",
                               "worker_max_memory_per_child")] == [None, None, None, None]


@pytest.mark.parametrize(("env", "message"), [
    ({"CELERY_TASK_ACKS_LATE": "maybe"}, "CELERY_TASK_ACKS_LATE must be true or false, got 'maybe'"),
    ({"CELERY_WORKER_PREFETCH_MULTIPLIER": "many"}, "CELERY_WORKER_PREFETCH_MULTIPLIER must be a whole number"),
    ({"CELERY_WORKER_PREFETCH_MULTIPLIER": "-1"}, "CELERY_WORKER_PREFETCH_MULTIPLIER must be at least 0, got -1"),
    ({"CELERY_TASK_TIME_LIMIT": "30m"}, "CELERY_TASK_TIME_LIMIT must be a whole number, got '30m'"),
    ({"CELERY_TASK_DEFAULT_QUEUE_TYPE": "stream"},
     "CELERY_TASK_DEFAULT_QUEUE_TYPE must be one of quorum, classic, got 'stream'"),
])
def test_a_setting_it_cannot_use_is_an_error_naming_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        deployment_settings(env)


def test_celery_command_line_reads_none_of_them_with_another_meaning():
    # `celery worker` takes CELERY_WORKER_<OPTION> from the environment (Click's
    # auto_envvar_prefix): such a variable reaches the worker twice, through the settings
    # and as the option. Only the prefetch multiplier may, as the option means the same.
    from celery.bin.celery import celery as command
    read_by_the_cli = {f"CELERY_{name.upper()}_{param.name.upper()}"
                       for name, sub in command.commands.items() for param in sub.params}
    assert set(OWNED_VARIABLES) & read_by_the_cli == {"CELERY_WORKER_PREFETCH_MULTIPLIER"}


def test_a_prefork_worker_starts_with_every_bound_off(tmp_path):
    # What the role writes with the bounds at 0 ("none"), given to the real command line.
    (tmp_path / "plainapp.py").write_text("from celery import Celery\napp = Celery('plainapp', broker='memory://')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT / 'roles/celery_app/files/celery-stack'}",
           "CELERY_STACK_APP": "plainapp", "CELERY_TASK_TIME_LIMIT": "1740", "CELERY_TASK_SOFT_TIME_LIMIT": "0",
           "CELERY_STACK_MAX_TASKS_PER_CHILD": "0", "CELERY_STACK_MAX_MEMORY_PER_CHILD": "0",
           "CELERY_WORKER_PREFETCH_MULTIPLIER": "1"}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "celery"), "-A", "celery_stack.app", "worker",
                               "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "--without-mingle",
                               "--without-gossip"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    seen = []
    # A worker that hangs instead of starting or failing is ended, and the test fails.
    deadline = threading.Timer(60, worker.kill)
    deadline.start()
    try:
        for line in worker.stdout:
            seen.append(line)
            if " ready." in line or "Unrecoverable error" in line:
                break
    finally:
        deadline.cancel()
        worker.terminate()
        worker.wait(timeout=30)
    assert any(" ready." in line for line in seen), "".join(seen[-20:])


def test_every_variable_it_reads_is_listed_as_owned():
    source = (ROOT / "roles/celery_app/files/celery-stack/celery_stack/settings.py").read_text()
    import re
    read = set(re.findall(r'"(CELERY_[A-Z_]+)"', source))
    assert read == set(OWNED_VARIABLES)


def test_load_names_what_is_wrong_with_the_app_name(name, monkeypatch):
    monkeypatch.delenv("CELERY_STACK_APP", raising=False)
    with pytest.raises(AppNotFound, match="CELERY_STACK_APP is not set"):
        load()
    with pytest.raises(AppNotFound, match=r"CELERY_STACK_APP='no_such_module_here' does not import: ModuleNotFoundError"):
        load("no_such_module_here")
    module(name, "VALUE = 1\n")
    with pytest.raises(AppNotFound, match=f"CELERY_STACK_APP='{name}' holds no Celery app"):
        load(name)


def test_load_finds_the_app_the_way_celery_dash_a_does(name, monkeypatch):
    monkeypatch.setenv("CELERY_TASK_DEFAULT_QUEUE", "work")
    mod = module(name, "from celery import Celery\nproject = Celery('project')\n")
    monkeypatch.setenv("CELERY_STACK_APP", name)
    assert load() is mod.project
    assert mod.project.conf.task_default_queue == "work"


def test_a_worker_runs_the_apps_task_with_the_deployments_options(name):
    app = Celery(name, broker="memory://", backend="cache+memory://")
    app.conf.update(task_acks_late=False)

    @app.task(name=f"{name}.add")
    def add(x, y):
        return x + y

    apply(app, {"CELERY_TASK_DEFAULT_QUEUE_TYPE": "classic"})
    with start_worker(app, pool="solo", perform_ping_check=False):
        assert add.delay(2, 3).get(timeout=10) == 5
    assert add.acks_late is True



def test_the_role_writes_every_variable_the_package_reads_and_refuses_them_elsewhere():
    import yaml
    role_vars = yaml.safe_load((ROOT / "roles/celery_app/vars/main.yml").read_text())
    owned = role_vars["__celery_app_owned_env"]
    from celery_stack.dead_letters import QUEUE_VARIABLE
    assert set(owned) == set(OWNED_VARIABLES) | {"CELERY_STACK_APP", QUEUE_VARIABLE}
    # Each names a variable of the role that an operator sets instead.
    defaults = yaml.safe_load((ROOT / "roles/celery_app/defaults/main.yml").read_text())
    assert [name for name in owned.values() if name not in defaults] == []
    env = role_vars["__celery_app_env"]
    assert [name for name in owned if f"'{name}'" not in env] == []


def test_python_dash_m_celery_stack_runs_a_script_with_the_settings_applied(name, tmp_path, monkeypatch, capsys):
    from celery_stack.__main__ import main
    (tmp_path / f"{name}.py").write_text("from celery import Celery\napp = Celery('scripted')\n")
    (tmp_path / f"{name}_script.py").write_text(textwrap.dedent(f"""
        import sys
        from {name} import app
        if __name__ == "__main__":
            print("queue type", app.conf.task_default_queue_type, "args", sys.argv[1:])
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CELERY_STACK_APP", name)
    sys.modules.pop("celery_stack.app", None)
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    main([f"{name}_script", "--flag", "x"])
    assert capsys.readouterr().out == "queue type quorum args ['--flag', 'x']\n"
    sys.modules.pop("celery_stack.app", None)


def test_python_dash_m_celery_stack_without_a_module_says_how_to_call_it():
    from celery_stack.__main__ import main
    with pytest.raises(SystemExit, match="usage: python -m celery_stack MODULE"):
        main([])
