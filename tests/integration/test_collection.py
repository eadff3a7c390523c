"""The roles as the collection celery_stack.deploy, as an operator who never saw this
repository uses them: the tarball `ansible-galaxy collection build` makes, installed into
an empty collections path, and a playbook of fully qualified role names converged on a
fresh Debian 13 host.

Nothing of this repository is in reach of that run: it starts in an empty directory with
an ansible.cfg of its own (no roles path but an empty directory, the collections path only
the one it installed into), so the roles, their modules, templates and the bundled app all
come from the installed collection. (The collections bundled with the ansible package,
community.rabbitmq and the others, stay on the path: they are the collection's
dependencies, and the install finds them there, offline.)
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from conftest import GROUPS, ROOT, base_vars, docker, recap, start_container, write_inventory

IMAGE13 = os.environ.get("MOLECULE_DEBIAN13_IMAGE") or "celery-stack/debian-systemd:13"
NAMESPACE, NAME = "celery_stack", "deploy"
EXPECTED_ROUND_TRIP = ["Task finished? False", "Task result: None", "Task finished? True", "Task result: 3"]


def venv_tool(name: str) -> str:
    exe = ROOT / ".venv" / "bin" / name
    return str(exe) if exe.exists() else shutil.which(name)


def build_collection(output: Path) -> Path:
    """What `make collection` does, into a directory of the test's own."""
    result = subprocess.run(
        [venv_tool("ansible-galaxy"), "collection", "build", "--output-path", str(output), "--force", str(ROOT)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = output.glob(f"{NAMESPACE}-{NAME}-*.tar.gz")
    return tarball


PLAYBOOK = """---
- name: The whole stack on one host, from the installed collection only
  hosts: all
  become: true
  # The collection's own wiring between its roles (playbooks/vars/wiring.yml).
  vars_files: [{wiring}]
  pre_tasks:
    - name: Read the app's broker account, as the broker will declare it
      ansible.builtin.include_role:
        name: celery_stack.deploy.celery_app
        tasks_from: broker_account
  roles:
    - role: celery_stack.deploy.pki
      when: wiring_tls
    - role: celery_stack.deploy.rabbitmq
    - role: celery_stack.deploy.celery_app
    - role: celery_stack.deploy.celery_worker
    - role: celery_stack.deploy.celery_beat
    - role: celery_stack.deploy.flower
"""

CONFIG = """[defaults]
collections_path = {collections}
roles_path = {roles}
interpreter_python = auto_silent
retry_files_enabled = false
callback_result_format = yaml

[connection]
pipelining = true
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """Build, install, converge twice; yields what the tests read."""
    work = tmp_path_factory.mktemp("collection-user")
    tarball = build_collection(tmp_path_factory.mktemp("collection-build"))
    collections, roles = work / "collections", work / "roles"
    roles.mkdir()
    (work / "ansible.cfg").write_text(CONFIG.format(collections=collections, roles=roles))
    # Only what this run sets: no ANSIBLE_* of the caller's (a roles path, a config) leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(work / "ansible.cfg"), ANSIBLE_NOCOLOR="1")

    # --offline: there is no Galaxy here; the dependencies are found installed (the
    # ansible package's), and a missing one fails instead of being fetched.
    install = subprocess.run(
        [venv_tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections" / NAMESPACE / NAME

    playbook = work / "stack.yml"
    playbook.write_text(PLAYBOOK.format(wiring=installed / "playbooks" / "vars" / "wiring.yml"))

    # One Debian 13 host: the integration suite's container helper, on the other image.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conftest, "IMAGE", IMAGE13)
        host = start_container("collection")
    try:
        inventory = work / "inventory"
        inventory.mkdir()
        write_inventory(inventory, host, base_vars(), list(GROUPS))

        def converge():
            started = time.monotonic()
            result = subprocess.run(
                [venv_tool("ansible-playbook"), "-i", str(inventory / "hosts.yml"), str(playbook)],
                cwd=work, env=env, capture_output=True, text=True, timeout=1200,
            )
            return result, time.monotonic() - started

        first, first_seconds = converge()
        second, second_seconds = converge() if first.returncode == 0 else (first, 0.0)
        print(f"\ncollection converge: first {first_seconds:.0f} s, second {second_seconds:.0f} s")
        yield {"host": host, "install": install, "installed": installed, "work": work,
               "first": first, "second": second, "env": env}
    finally:
        docker("rm", "-f", host, check=False)


def sh(host: str, script: str, check=True):
    return docker("exec", host, "sh", "-c", script, check=check)


def test_the_tarball_installs_offline_into_an_empty_collections_path(deployed):
    assert "celery_stack.deploy:1.0.0 was installed successfully" in deployed["install"].stdout
    listed = subprocess.run(
        [venv_tool("ansible-galaxy"), "collection", "list", f"{NAMESPACE}.{NAME}"],
        cwd=deployed["work"], env=deployed["env"], capture_output=True, text=True,
    ).stdout
    # Found in the one path installed into, and nowhere else.
    assert listed.count(f"{NAMESPACE}.{NAME}") == 1 and str(deployed["installed"].parents[2]) in listed, listed


def test_a_playbook_of_fully_qualified_role_names_converges(deployed):
    first = deployed["first"]
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    counts = recap(first, deployed["host"])
    assert counts["failed"] == 0 and counts["changed"] > 0
    # The deploy gates of the collection's units ran (celery_unit, reached by its short name
    # from inside the collection's celery_worker, celery_beat and flower).
    assert "answers a Celery ping" in first.stdout
    assert "Wait until beat has started, stays up and reaches the broker" in first.stdout


def test_the_second_converge_changes_nothing(deployed):
    second = deployed["second"]
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second, deployed["host"])["changed"] == 0, second.stdout[-4000:]


def test_the_services_are_active(deployed):
    states = sh(deployed["host"], "systemctl is-active celery-worker celery-beat flower rabbitmq-server",
                check=False).stdout.split()
    assert states == ["active", "active", "active", "active"]


def test_a_task_travels_through_the_deployed_worker_and_back(deployed):
    # The bundled app's client, as the app's user, with the deployed settings (as make demo does).
    result = docker(
        "exec", deployed["host"], "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        "--uid=celery", "--gid=celery", "--property=EnvironmentFile=/etc/test_celery/celery.env",
        "/opt/test_celery/venv/bin/python", "-m", "celery_stack", "test_celery.run_tasks", check=False,
    )
    assert result.stdout.splitlines() == EXPECTED_ROUND_TRIP, result.stdout + result.stderr[-2000:]


def test_the_app_and_the_modules_came_from_the_collection(deployed):
    # The broker's users were set by the collection's own modules (plugins/modules), and
    # the app installed is the one the collection carries.
    users = sh(deployed["host"], "rabbitmqctl --quiet list_users --formatter json").stdout
    assert '"doky"' in users and '"guest"' not in users
    assert (deployed["installed"] / "app" / "pyproject.toml").is_file()
    assert not (deployed["installed"] / "app" / "tests").exists()
