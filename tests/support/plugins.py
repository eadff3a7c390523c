"""The collection's filter plugins, loaded from this tree for the tests as Ansible loads
them: their module_utils under the collection's name first."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ansible_collections.celery_stack.deploy.plugins"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_filter(name: str):
    """plugins/filter/NAME.py, after the module_utils it imports."""
    for path in sorted((ROOT / "plugins" / "module_utils").glob("*.py")):
        if f"{PACKAGE}.module_utils.{path.stem}" not in sys.modules:
            load(f"{PACKAGE}.module_utils.{path.stem}", path)
    return load(f"{PACKAGE}.filter.{name}", ROOT / "plugins" / "filter" / f"{name}.py")
