"""Releases, as an operator deploys them: new code reaches the workers even when its
version number did not change (a source tree, a rebuilt wheel, a moved git ref), the
converge after a deploy changes nothing, a release (code or settings) that fails its
deploy gate leaves the previous one serving, one command rolls back, and a converge cut
off in the middle is finished by the next one (the rebuilt wheel's).

Every variant of the bundled app carries the task release_marker, which returns a text
naming the variant: what it returns through the deployed worker is the code it runs.
All variants keep version 1.0.0.

The deploys go through playbooks/app.yml, as an operator ships a new release without
touching the brokers, except for the changed tree: site.yml deploys it, and the next
site.yml must find nothing to do.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (GROUPS, ROOT, app_python, base_vars, build_wheel, docker, git, publish, recap, run_playbook,
                      start_container, write_inventory)

APP = "test_celery"
HOME = f"/opt/{APP}"
MARKER_TASK = '''

@app.task
def release_marker():
    """Names the variant of the code this worker runs (tests/integration/test_releases.py)."""
    return {text!r}
'''
ASK_MARKER = (
    "from celery_stack.app import app\n"
    "print(app.send_task('test_celery.tasks.release_marker').get(timeout=30))\n"
)


def variant(base: Path, text: str, broken: bool = False) -> Path:
    """A copy of the bundled app whose release_marker returns text (and that cannot even be
    imported when broken), same name, same version."""
    target = base / text.replace(" ", "-")
    shutil.copytree(ROOT / "app", target, ignore=shutil.ignore_patterns(".venv", "*.egg-info", "__pycache__", "build"))
    tasks = target / "src" / APP / "tasks.py"
    code = tasks.read_text() + MARKER_TASK.format(text=text)
    if broken:
        code += "\nraise RuntimeError('this release cannot start')\n"
    tasks.write_text(code)
    return target


class Host:
    def __init__(self, name: str, inventory: Path):
        self.name, self.inventory = name, inventory

    def converge(self, *options: str, playbook: str = "playbooks/app.yml", **variables):
        self.write(**variables)
        return run_playbook(self.inventory, playbook, *options)

    def write(self, **variables):
        write_inventory(self.inventory, self.name, dict(base_vars(), celery_worker_gate_timeout=30,
                                                        flower_gate_timeout=30, **variables), list(GROUPS))

    def sh(self, script: str) -> str:
        return docker("exec", self.name, "sh", "-c", script).stdout.strip()

    def release(self) -> str:
        return self.sh(f"readlink {HOME}/venv")

    def marker(self) -> str:
        return app_python(self.name, ASK_MARKER, app=APP)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    name = start_container("releases")
    try:
        deployed = Host(name, tmp_path_factory.mktemp("inventory"))
        sources = tmp_path_factory.mktemp("sources")
        result = deployed.converge(celery_app_src_path=str(variant(sources, "first")), playbook="site.yml")
        assert result.returncode == 0, result.stdout[-3000:]
        deployed.sources = sources
        yield deployed
    finally:
        docker("rm", "-f", name, check=False)


def converged(result):
    assert result.returncode == 0, result.stdout[-3000:]
    return result


def test_the_first_release_serves_its_code(host):
    assert host.marker() == "first"
    assert host.release().startswith("releases/")


def test_a_changed_tree_of_the_same_version_is_deployed_and_restarts_the_units(host):
    before = host.release()
    worker_before = host.sh("systemctl show -P InvocationID celery-worker")
    converged(host.converge(celery_app_src_path=str(variant(host.sources, "second")), playbook="site.yml"))
    assert host.release() != before
    assert host.marker() == "second"
    assert host.sh("systemctl show -P InvocationID celery-worker") != worker_before
    # The worker copied the newest release when it started.
    assert host.sh(f"cat /run/celery-worker/{APP}.release") == host.sh(f"cat {HOME}/{APP}.release")
    # Nothing of the deploy is left to do or to clear.
    again = converged(host.converge(celery_app_src_path=str(host.sources / "second"), playbook="site.yml"))
    assert recap(again, host.name)["changed"] == 0, again.stdout[-3000:]


def refused_settings(host, environment: dict) -> str:
    """Converge the serving code ("second") with settings that fail a deploy gate; returns
    the run's output on one line, after checking that it failed and put the release back."""
    recorded = host.sh(f"cat {HOME}/{APP}.release")
    result = host.converge(celery_app_src_path=str(host.sources / "second"), celery_app_environment=environment)
    flat = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "Rollback: switched" in flat
    assert host.sh(f"cat {HOME}/{APP}.release") == recorded
    assert host.marker() == "second"
    return flat


def test_settings_that_fail_their_gate_are_put_back(host):
    settings = host.sh("md5sum /etc/test_celery/celery.env")
    recorded = host.sh(f"cat {HOME}/{APP}.release")
    # The same code, settings with which every unit's Python fails to start.
    flat = refused_settings(host, {"PYTHONHOME": "/nonexistent"})
    assert "Deploy gate: celery-worker.service did not pass" in flat, flat[-3000:]
    assert host.sh("md5sum /etc/test_celery/celery.env") == settings
    # Restarted on the settings put back: no unit runs the refused ones.
    assert host.sh(f"cat /run/celery-worker/{APP}.release") == recorded
    assert host.sh("systemctl is-active celery-worker flower").split() == ["active", "active"]


def test_a_later_play_whose_gate_fails_puts_every_unit_back(host):
    """The worker and beat pass their gates on the new settings in their plays; Flower's,
    in the last play, fails (it serves under another path). Every unit of the host ends on
    the release put back, not only Flower."""
    recorded = host.sh(f"cat {HOME}/{APP}.release")
    flat = refused_settings(host, {"FLOWER_URL_PREFIX": "elsewhere"})
    assert "Deploy gate: flower.service did not pass" in flat, flat[-3000:]
    assert "Deploy gate: celery-worker.service" not in flat, flat[-3000:]
    for unit in ("celery-worker", "celery-beat", "flower"):
        assert host.sh(f"cat /run/{unit}/{APP}.release") == recorded, unit
    assert host.sh("systemctl is-active celery-worker celery-beat flower").split() == ["active"] * 3


def cut_off(host, **variables) -> None:
    """Start a deploy and kill the whole run (SIGKILL) as soon as its new release is
    complete: between the build and the switch, as a lost connection or a ^C would."""
    before = set(host.sh(f"ls {HOME}/releases").split())
    host.write(**variables)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    playbook = subprocess.Popen([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(host.inventory / "hosts.yml"),
                                 str(ROOT / "playbooks" / "app.yml")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, cut = time.monotonic() + 600, False
    while time.monotonic() < deadline and playbook.poll() is None:
        complete = set(host.sh(f"cd {HOME}/releases && ls -d */.complete 2>/dev/null | cut -d/ -f1").split())
        if complete - before:
            os.killpg(playbook.pid, signal.SIGKILL)
            cut = True
            break
        time.sleep(0.2)
    playbook.wait()
    assert cut, "the run ended before the new release was complete"


def test_a_rebuilt_wheel_of_the_same_version_is_deployed_by_the_run_after_one_cut_off(host):
    one = build_wheel(variant(host.sources, "wheel one"), host.sources / "dist-one")
    two = build_wheel(variant(host.sources, "wheel two"), host.sources / "dist-two")
    assert one.name == two.name  # same name, same version: only the contents differ
    converged(host.converge(celery_app_wheel=str(one)))
    assert host.marker() == "wheel one"
    # The first run of the rebuilt wheel dies after its build; the next one finishes it.
    cut_off(host, celery_app_wheel=str(two))
    converged(host.converge(celery_app_wheel=str(two)))
    assert host.marker() == "wheel two"
    assert host.sh(f"cat /run/celery-worker/{APP}.release") == host.sh(f"cat {HOME}/{APP}.release")
    assert host.sh(f"cat /run/flower/{APP}.release") == host.sh(f"cat {HOME}/{APP}.release")


def test_a_git_ref_that_moved_to_a_commit_of_the_same_version_is_deployed(host, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(variant(tmp_path, "git one"), work)
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "one")
    publish(work, host.name, "/srv/app.git")
    source = {"celery_app_git_url": "file:///srv/app.git", "celery_app_git_version": "main"}
    converged(host.converge(**source))
    assert host.marker() == "git one"
    host.git_one = host.release()

    tasks = work / "src" / APP / "tasks.py"
    tasks.write_text(tasks.read_text().replace("'git one'", "'git two'"))
    git(work, "commit", "--quiet", "-am", "two")
    publish(work, host.name, "/srv/app.git")
    converged(host.converge(**source))
    assert host.marker() == "git two"


def test_the_rollback_command_goes_back_to_the_release_before(host):
    # The two git releases above: "git two" serves, "git one" was built before it.
    assert host.marker() == "git two"
    result = converged(run_playbook(host.inventory, "playbooks/rollback.yml"))
    assert "Wait until the worker answers a Celery ping" in result.stdout
    assert host.release() == host.git_one
    assert host.marker() == "git one"


def test_a_release_that_fails_its_gate_leaves_the_previous_one_serving(host):
    serving, code = host.release(), host.marker()
    result = host.converge(celery_app_src_path=str(variant(host.sources, "broken", broken=True)))
    flat = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "Deploy gate: celery-worker.service did not pass" in flat
    assert "RuntimeError: this release cannot start" in flat
    assert f"Rollback: switched {HOME}/venv back to release {serving.split('/')[-1]}" in flat
    assert host.release() == serving
    assert host.marker() == code
    assert host.sh("systemctl is-active celery-worker flower").split() == ["active", "active"]


def test_old_releases_are_removed_beyond_the_ones_kept(host):
    # Seven releases were made above; the three newest complete ones stay, and the current
    # one and the one it replaced are never removed. Nothing but releases is kept about them.
    releases = host.sh(f"ls {HOME}/releases").split()
    assert host.release().split("/")[-1] in releases
    assert len(releases) <= 3 + 2, releases
    assert host.sh(f"ls {HOME}").split() == ["releases", f"{APP}.release", "venv"]
