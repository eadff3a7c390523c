"""House rules every role keeps, checked from the files themselves.

defaults/main.yml and meta/argument_specs.yml are two descriptions of the same inputs; a
variable documented in one and missing from the other is a bug an operator would hit
(a typo silently ignored, or a validation that rejects a documented variable).
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
# Roles with no main entry point: only other roles include them, with every input set.
INTERNAL = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir() and p.name not in ROLES)


def load(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role: str) -> dict:
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def defaults(role: str) -> dict:
    return load(ROOT / "roles" / role / "defaults" / "main.yml")


def yaml_strings(node):
    """Every string of a YAML document (its values and keys; comments are gone)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from yaml_strings(key)
            yield from yaml_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from yaml_strings(value)


# The package the app role installs into every release: its module names are what the
# playbook passes (celery_stack.app), not a path of the role.
SHIPPED_PACKAGE = {"celery-stack", "celery_stack", "__init__.py", "__main__.py", "app.py", "loading.py",
                   "settings.py", "pyproject.toml"}


def owned_names(role: str) -> set[str]:
    """What a role owns on a host: the files it ships or renders (by name) and its units."""
    base = ROOT / "roles" / role
    names = {p.name.removesuffix(".j2") for sub in ("files", "templates") if (base / sub).is_dir()
             for p in (base / sub).rglob("*") if p.is_file()} - SHIPPED_PACKAGE
    names |= {str(v) for k, v in defaults(role).items() if k.endswith("_service_name")}
    for tasks in [*(base / "tasks").glob("*.yml"), *(base / "handlers").glob("*.yml")]:
        for task in load(tasks) or []:
            unit = (task.get("ansible.builtin.systemd_service") or {}).get("name")
            if isinstance(unit, str) and "{{" not in unit:
                names.add(unit)
    return names


def role_text(role: str):
    """What a role does (tasks, handlers, vars, defaults, templates, programs), without its
    comments and documentation."""
    for path in sorted((ROOT / "roles" / role).rglob("*")):
        if not path.is_file() or path.suffix == ".md" or "meta" in path.parts:
            continue
        if path.suffix == ".yml":
            yield path, "\n".join(yaml_strings(load(path)))
        else:
            yield path, "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def test_the_ownership_check_sees_the_units_and_files_of_each_role():
    assert {"rabbitmq-server", "rabbitmq.conf"} <= owned_names("rabbitmq")
    assert {"celery-worker", "worker_gate.py", "instance.conf"} <= owned_names("celery_worker")
    assert {"celery-unit.service", "stale_units.py"} <= owned_names("celery_unit")
    assert {"celery.env", "rollback.py"} <= owned_names("celery_app")


@pytest.mark.parametrize("role", ROLES + INTERNAL)
def test_no_role_names_another_roles_files_or_units(role):
    """A role that wrote another's unit name or file path would break when that role's
    layout changes, and no variable check would notice: the playbook passes such names."""
    found = []
    for other in ROLES + INTERNAL:
        if other == role:
            continue
        for name in owned_names(other):
            pattern = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])")
            found += [f"{path.relative_to(ROOT)} names {other}'s {name}"
                      for path, text in role_text(role) if pattern.search(text)]
    assert found == []


def test_there_are_six_roles_and_one_shared_by_the_units():
    assert ROLES == ["celery_app", "celery_beat", "celery_worker", "flower", "pki", "rabbitmq"]
    assert INTERNAL == ["celery_unit"]


def entry_points(role: str) -> dict:
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]


@pytest.mark.parametrize("role", INTERNAL)
def test_internal_entry_points_have_a_task_file_and_agree_with_defaults(role):
    specs = entry_points(role)
    text = (ROOT / "roles" / role / "defaults" / "main.yml").read_text()
    options = {}
    for entry, spec in specs.items():
        assert (ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file(), f"{role}: no tasks/{entry}.yml"
        for name, option in spec["options"].items():
            # One input means the same in every entry point.
            assert options.setdefault(name, option) == option, f"{role}: {name} differs between entry points"
    for name, option in options.items():
        assert name.startswith(f"{role}_")
        if name in defaults(role):
            assert option.get("default") == defaults(role)[name], f"{role}: {name} defaults differ"
        else:
            assert option.get("required"), f"{role}: {name} has no default, so it must be required"
            assert re.search(rf"^# {re.escape(name)}:", text, re.M), f"{role}: {name} is not documented in defaults"
    assert sorted(set(defaults(role)) - set(options)) == []
    readme = (ROOT / "roles" / role / "README.md").read_text()
    assert [name for name in options if f"`{name}`" not in readme] == []


ALL_ROLES = ROLES + INTERNAL


JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
# Keys whose value is a bare Jinja expression, without braces.
BARE = {"when", "that", "failed_when", "changed_when", "until"}


def expressions(node, bare=False):
    """Every piece of Jinja in a parsed YAML file: bare expressions and {{ }}/{% %} parts."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from expressions(value, bare=key in BARE)
    elif isinstance(node, list):
        for value in node:
            yield from expressions(value, bare)
    elif isinstance(node, str):
        yield from [node] if bare else JINJA.findall(node)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_no_role_reads_another_roles_variables(role):
    # Only playbooks and the inventory join roles (playbooks/vars/wiring.yml). A role may set
    # another role's inputs when it includes it (a YAML key) and name them in a message,
    # never read them in an expression.
    others = [other for other in ALL_ROLES if other != role]
    reads = re.compile(rf"\b(?:{'|'.join(others)})_[a-z0-9_]+")
    found = []
    for path in sorted((ROOT / "roles" / role).rglob("*")):
        if path.suffix == ".yml":
            pieces = list(expressions(yaml.safe_load(path.read_text())))
        elif path.suffix == ".j2":
            pieces = JINJA.findall(path.read_text())
        else:
            continue
        found += [f"{path.relative_to(ROOT)}: {name}" for piece in pieces for name in reads.findall(piece)]
    assert found == []


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_declared_in_the_argument_spec(role):
    missing = sorted(set(defaults(role)) - set(spec_options(role)))
    assert missing == [], f"{role}: in defaults/main.yml but not in meta/argument_specs.yml"


@pytest.mark.parametrize("role", ROLES)
def test_every_declared_input_has_a_default_or_is_a_secret(role):
    # A secret has no default on purpose; it must then be documented as a comment in
    # defaults/main.yml so the reference stays complete.
    text = (ROOT / "roles" / role / "defaults" / "main.yml").read_text()
    for name, option in spec_options(role).items():
        if name in defaults(role):
            continue
        assert re.search(rf"^# {re.escape(name)}:", text, re.M), (
            f"{role}: {name} has no default and is not documented as a comment in defaults/main.yml"
        )
        assert option.get("required") or option.get("no_log"), (
            f"{role}: {name} has no default, so it must be required or a secret (no_log)"
        )


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_spec_agree_on_values(role):
    specs = spec_options(role)
    for name, value in defaults(role).items():
        spec = specs[name]
        if "default" in spec:
            assert spec["default"] == value, f"{role}: {name} defaults differ: {value!r} vs {spec['default']!r}"
        else:
            # A default computed at run time (another role's variable, a fact) is not
            # repeated in the spec, which cannot template.
            assert "{{" in str(value), f"{role}: {name} has a default but the spec gives none"


@pytest.mark.parametrize("role", ROLES)
def test_preflight_entry_point_checks_the_same_inputs(role):
    specs = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    assert specs["preflight"]["options"] == specs["main"]["options"]
    assert (ROOT / "roles" / role / "tasks" / "preflight.yml").is_file()


@pytest.mark.parametrize("role", ROLES)
def test_every_input_carries_the_role_prefix(role):
    bad = [name for name in spec_options(role) if not name.startswith(f"{role}_")]
    assert bad == []


@pytest.mark.parametrize("role", ROLES)
def test_secrets_have_no_default(role):
    for name, option in spec_options(role).items():
        if option.get("no_log") and option.get("type") == "str":
            assert name not in defaults(role) or defaults(role)[name] == "", f"{role}: secret {name} has a default"


# A template under a host path (templates/etc/...) renders that file; one at the top of
# templates/ is a fragment (a command line, a macro) that another template takes in.
@pytest.mark.parametrize("template", sorted((ROOT / "roles").glob("*/templates/*/**/*.j2")), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_start_with_the_managed_marker(template):
    text = template.read_text()
    # A script keeps its "#!" line first; the marker follows it. An Erlang term file
    # takes Erlang's comment style.
    if text.startswith("#!"):
        text = text.split("\n", 1)[1]
    assert text.startswith(("{{ ansible_managed | comment }}", "{{ ansible_managed | comment('erlang') }}"))


def test_the_playbooks_fallback_for_flowers_package_is_the_roles_default():
    wiring = (ROOT / "playbooks" / "vars" / "wiring.yml").read_text()
    assert f"flower_package | default('{defaults('flower')['flower_package']}')" in wiring


def test_the_playbooks_tls_fallbacks_are_the_roles_defaults():
    wiring = (ROOT / "playbooks" / "vars" / "wiring.yml").read_text()
    assert f"rabbitmq_tls | default({str(defaults('rabbitmq')['rabbitmq_tls']).lower()})" in wiring
    assert f"celery_app_broker_tls | default({str(defaults('celery_app')['celery_app_broker_tls']).lower()})" in wiring
    assert f"celery_app_broker_tls_name | default('{defaults('celery_app')['celery_app_broker_tls_name']}')" in wiring


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_readme_naming_each_input(role):
    readme = ROOT / "roles" / role / "README.md"
    assert readme.is_file()
    text = readme.read_text()
    undocumented = [name for name in spec_options(role) if f"`{name}`" not in text]
    assert undocumented == [], f"{role}/README.md does not mention {undocumented}"
