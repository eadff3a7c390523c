"""What every test of this repository builds its inventories from: a valid inventory for
one host playing every part, with secrets that are random per run and made of the
characters that break shells, URLs and YAML."""

import secrets

# Random per run, and made of every character a shell, a URL, a systemd environment file
# or a YAML file treats specially, spaces at both ends included (Flower's list form
# forbids only the comma). They must work end to end and never be printed.
NASTY = " $HOME ${PATH} `id` $(id) \"double\" 'single' back\\slash 100%25 %h #hash ;semi &amp |pipe :colon @at /slash ?q= "
BROKER_PASSWORD = f" {secrets.token_hex(8)}{NASTY}, {secrets.token_hex(8)} "
FLOWER_PASSWORD = f" {secrets.token_hex(8)}{NASTY}{secrets.token_hex(8)} "
# The monitoring user's password goes into Flower's management API URL as written, which
# cannot hold / ? # % [ ] or white space (the flower role's README says why).
MONITOR_PASSWORD = f"{secrets.token_hex(8)}$HOME${{PATH}}`id`$(id)\"q'q\\b:colon@at;semi&amp|pipe{secrets.token_hex(4)}"
# The same for every inventory of the run: a cookie that changed between two converges
# would restart the broker (and make a second converge report changes).
ERLANG_COOKIE = secrets.token_hex(20)
GROUPS = ("rabbitmq", "celery_workers", "celery_beat", "flower")


def base_vars() -> dict:
    """A valid inventory for one host playing every part; secrets are random per run. The
    app's broker account is named once (celery_app_broker_*); rabbitmq_users holds only
    what the app does not own."""
    return {
        "rabbitmq_users": [{
            "name": "monitor",
            "password": MONITOR_PASSWORD,
            "tags": ["monitoring"],
            "permissions": [{"vhost": "doky_host", "configure": "^$", "write": "^$", "read": "^$"}],
        }],
        "rabbitmq_erlang_cookie": ERLANG_COOKIE,
        "celery_app_broker_user": "doky",
        "celery_app_broker_vhost": "doky_host",
        "celery_app_broker_password": BROKER_PASSWORD,
        "celery_app_broker_tags": ["doky_tag"],
        "celery_worker_concurrency": 2,
        "flower_basic_auth": [{"username": "admin", "password": FLOWER_PASSWORD}],
        "flower_broker_api_url": "http://127.0.0.1:15672/api/",
        "flower_broker_api_user": "monitor",
        "flower_broker_api_password": MONITOR_PASSWORD,
    }


def with_own_url(variables: dict, url: str) -> dict:
    """An operator with a broker URL of their own declares the app's user and vhost on the
    broker themselves (rabbitmq_users, rabbitmq_vhosts), as the README says to."""
    variables["celery_app_broker_url"] = url
    variables["rabbitmq_vhosts"] = [{"name": "doky_host"}]
    variables["rabbitmq_users"].append({
        "name": "doky", "password": BROKER_PASSWORD,
        "permissions": [{"vhost": "doky_host", "configure": ".*", "write": ".*", "read": ".*"}]})
    return variables
