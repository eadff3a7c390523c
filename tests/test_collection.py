"""The collection celery_stack.deploy as `ansible-galaxy collection build` makes it from
galaxy.yml: every role, the wiring, the modules and the bundled app in, and nothing that
is not the deployment (tests, Molecule, the virtualenv, inventories and their secrets,
results, build leftovers). tests/integration/test_collection.py installs and converges it.
"""

import fnmatch
import json
import posixpath
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = ["celery_app", "celery_beat", "celery_unit", "celery_worker", "flower", "pki", "rabbitmq"]
# Never in the tarball, wherever they are (fnmatch, "*" crosses "/").
FORBIDDEN = [
    ".venv/*", ".git/*", ".git", ".ci/*", ".config/*", ".pytest_cache*", "*/.pytest_cache*", "molecule/*", "tests/*", "app/tests/*",
    "artifacts/*", "bench/*", "inventory/*", "*/.secrets/*", "*.egg-info*", "*__pycache__*", "*.pyc",
    "build/*", "dist/*", "scripts/*", "docs/*", "Makefile", "ansible.cfg", "site.yml", "requirements*.txt",
    ".ansible-lint", ".yamllint", ".gitignore", ".secrets.baseline", "galaxy.yml", "*.tar.gz",
]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    exe = ROOT / ".venv" / "bin" / "ansible-galaxy"
    exe = str(exe) if exe.exists() else shutil.which("ansible-galaxy")
    out = tmp_path_factory.mktemp("collection")
    result = subprocess.run([exe, "collection", "build", "--output-path", str(out), "--force", str(ROOT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("celery_stack-deploy-*.tar.gz")
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}, json.loads(tar.extractfile("MANIFEST.json").read())


def test_it_is_celery_stack_deploy_at_the_version_of_galaxy_yml(tarball):
    _, manifest = tarball
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("celery_stack", "deploy", galaxy["version"])
    # The namespace the roles declare themselves.
    for role in ROLES:
        meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
        assert meta["galaxy_info"]["namespace"] == info["namespace"]


def test_every_role_of_the_repository_is_in_it(tarball):
    members, _ = tarball
    on_disk = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    assert set(ROLES) <= set(on_disk)
    for role in on_disk:
        # Every file of the role (celery_unit has no tasks/main.yml: only tasks_from).
        files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "roles" / role).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
        assert f"roles/{role}/meta/main.yml" in files
        assert [f for f in files if f not in members] == [], role


def test_it_carries_what_the_roles_need_at_run_time(tarball):
    members, _ = tarball
    for path in ["meta/runtime.yml", "playbooks/vars/wiring.yml", "app/pyproject.toml",
                 "app/src/test_celery/celery.py", "app/src/test_celery/tasks.py", "app/src/test_celery/run_tasks.py",
                 "README.md", "CHANGELOG.md"]:
        assert path in members, path
    # The collection's own plugins, as files (a collection's roles cannot bring plugins along).
    for name in ["modules/rabbitmq_declare.py", "modules/rabbitmq_cluster_join.py", "modules/celery_release_info.py",
                 "module_utils/rabbitmq_cli.py",
                 "module_utils/listeners.py", "filter/stack.py", "filter/inputs.py"]:
        assert members[f"plugins/{name}"].isfile(), name


@pytest.mark.parametrize("pattern", FORBIDDEN)
def test_nothing_that_is_not_the_deployment(tarball, pattern):
    members, _ = tarball
    assert not [name for name in members if fnmatch.fnmatch(name, pattern)]
