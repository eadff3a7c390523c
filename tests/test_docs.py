"""The argument specs are the variable reference: each role README's variable table is
generated from its spec (scripts/docs.py, `make docs`), and a table that no longer says
what the spec says fails here."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "scripts" / "docs.py"


def docs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DOCS), *args], capture_output=True, text=True)


def test_every_readme_table_says_what_its_spec_says():
    result = docs("--check")
    assert result.returncode == 0, result.stderr


def copy_of_the_roles(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    return tmp_path


def test_a_changed_description_makes_the_table_stale_until_make_docs(tmp_path):
    root = copy_of_the_roles(tmp_path)
    spec_path = root / "roles" / "celery_worker" / "meta" / "argument_specs.yml"
    spec_path.write_text(spec_path.read_text().replace(
        "description: Seconds before systemd restarts a failed worker.",
        "description: Seconds | before a restart."))
    result = docs("--check", "--root", str(root))
    assert result.returncode == 1
    assert "roles/celery_worker/README.md" in result.stderr
    assert docs("--root", str(root)).returncode == 0
    text = (root / "roles" / "celery_worker" / "README.md").read_text()
    # A pipe in a description stays inside its cell.
    assert "| `celery_worker_restart_sec` | `5` | Seconds \\| before a restart. |" in text
    assert docs("--check", "--root", str(root)).returncode == 0


def test_defaults_required_inputs_and_computed_defaults_are_told_apart(tmp_path):
    text = (ROOT / "roles" / "celery_worker" / "README.md").read_text()
    assert "| `celery_worker_app` | none (required) |" in text
    assert "| `celery_worker_queues` | `[]` |" in text
    assert "| `celery_worker_task_events` | `true` |" in text
    # The role's default is an expression: the description says it in words.
    assert "| `celery_worker_concurrency` | computed (see the description) |" in text
    # An internal role's inputs name the entry points that take them.
    unit = (ROOT / "roles" / "celery_unit" / "README.md").read_text()
    assert "| `celery_unit_release_file` | unit, follow | `\"\"` |" in unit


def test_every_input_of_every_entry_point_is_in_the_table():
    for spec_path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        readme = (spec_path.parent.parent / "README.md").read_text()
        for entry in yaml.safe_load(spec_path.read_text())["argument_specs"].values():
            for name in entry["options"]:
                assert f"| `{name}` |" in readme, f"{spec_path.parent.parent.name}: {name}"


def test_a_readme_without_the_markers_is_an_error(tmp_path):
    root = copy_of_the_roles(tmp_path)
    readme = root / "roles" / "pki" / "README.md"
    readme.write_text(readme.read_text().replace("<!-- end of variables -->", ""))
    result = docs("--check", "--root", str(root))
    assert result.returncode != 0
    assert "no variable table markers" in result.stderr
