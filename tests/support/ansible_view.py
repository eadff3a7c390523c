"""A host's variables as a role sees them in this project's playbooks, evaluated by
Ansible's own templating, without a host or a playbook run.

The layers are Ansible's, lowest first: the roles' defaults, the inventory (as
group_vars/all), the playbooks' wiring (playbooks/vars/wiring.yml, play vars), then the
magic variables a role reads (inventory_hostname, groups, a few facts). The tests of
the roles' input rules read them from here, so that a default or a wiring that is a
template is checked with the value it really takes.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader import AnsibleCollectionConfig

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["celery_app", "rabbitmq", "celery_worker", "celery_beat", "flower", "pki"]
# What the preflight's fact gathering gives a 4-CPU host called mq.
FACTS = {"processor_nproc": 4, "hostname": "mq", "fqdn": "mq.example.internal",
         "default_ipv4": {"address": "10.0.0.5"}}


# The collection's own filters (the wiring calls some) found as ansible-playbook finds them:
# this tree is the collection celery_stack.deploy under collections/ (ansible.cfg).
if not AnsibleCollectionConfig.collection_finder:
    init_plugin_loader([str(ROOT / "collections")])


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def load_tasks(path: Path) -> list:
    return yaml.safe_load(path.read_text()) or []


def trusted(value):
    """Values as Ansible holds those read from its own files: templates it evaluates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


class HostView:
    def __init__(self, inventory: dict, *, host: str = "mq", groups: dict | None = None, inventory_dir: str = "/inventory"):
        groups = groups or {"rabbitmq": [host], "celery_workers": [host], "celery_beat": [host], "flower": [host]}
        layers: dict = {}
        for role in ROLES:
            layers.update(load(ROOT / "roles" / role / "defaults" / "main.yml"))
        layers.update(inventory)
        layers.update(load(ROOT / "playbooks" / "vars" / "wiring.yml"))
        every = sorted({h for g in groups.values() for h in g})
        layers.update({"inventory_hostname": host, "groups": {"all": every, **groups},
                       # every host with this inventory (group_vars/all)
                       "hostvars": {name: inventory for name in every},
                       "ansible_facts": FACTS, "inventory_dir": inventory_dir})
        self.variables = trusted(layers)
        self._templar = Templar(loader=DataLoader(), variables=self.variables)

    def set_facts(self, tasks_file: Path) -> "HostView":
        """What the set_fact tasks of a role's tasks file would set on this host, evaluated
        here (the celery_app role's broker_account, which the broker's wiring reads)."""
        for task in load_tasks(tasks_file):
            # The task's own vars are in scope for its values, as in a play.
            self.variables.update(trusted(task.get("vars") or {}))
            for name, value in (task.get("ansible.builtin.set_fact") or {}).items():
                self.variables[name] = trusted(self._templar.template(trusted(value)))
        return self

    def __getitem__(self, name: str):
        return self._templar.template(self.variables[name])

    def __contains__(self, name: str) -> bool:
        return name in self.variables

    def names(self, prefix: str) -> list[str]:
        return [name for name in self.variables if name.startswith(prefix)]

    def evaluated(self, prefix: str) -> dict:
        """Every variable of that prefix, evaluated: what q('ansible.builtin.vars', ...) gives a role."""
        return {name: self[name] for name in self.names(prefix)}
