"""The ports a broker of the rabbitmq role listens on for clients, by the variable that
sets each: one rule, read by the role's own checks and by the checks between roles
(plugins/filter/inputs.py and stack.py)."""

from __future__ import annotations


def flag(value) -> bool:
    """A boolean as an inventory may write it (true, "yes", "false", 0...)."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "on", "1"}
    return bool(value)


def broker_listeners(get) -> dict:
    """get(name) gives a rabbitmq_* variable's value; returns {variable: port as given}.
    A plugin that is off serves no port; plain AMQP and AMQPS each only when switched on."""
    plugins = get("rabbitmq_plugins") or []
    listeners = {}
    if flag(get("rabbitmq_amqp_plain")):
        listeners["rabbitmq_amqp_port"] = get("rabbitmq_amqp_port")
    if flag(get("rabbitmq_tls")):
        listeners["rabbitmq_amqps_port"] = get("rabbitmq_amqps_port")
    if "rabbitmq_management" in plugins:
        listeners["rabbitmq_management_port"] = get("rabbitmq_management_port")
    if "rabbitmq_prometheus" in plugins:
        listeners["rabbitmq_prometheus_port"] = get("rabbitmq_prometheus_port")
    return listeners
