"""The programs the roles run on a host (each role's files/*.py), run here as the hosts run
them: a separate Python process with their arguments, their output and exit code read.

The gates' good paths need a live worker, beat and Flower on a broker, which the Molecule
scenarios and the integration suite give them at every converge; here are the answers a
failing unit gets, which those rarely show, and the file-system programs whole.
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER_GATE = ROOT / "roles" / "celery_worker" / "files" / "worker_gate.py"
BEAT_GATE = ROOT / "roles" / "celery_beat" / "files" / "beat_gate.py"
FLOWER_GATE = ROOT / "roles" / "flower" / "files" / "flower_gate.py"
PRUNE = ROOT / "roles" / "celery_app" / "files" / "prune_releases.py"
STALE_UNITS = ROOT / "roles" / "celery_unit" / "files" / "stale_units.py"
ROLLBACK = ROOT / "roles" / "celery_app" / "files" / "rollback.py"
PACK = ROOT / "roles" / "celery_app" / "files" / "pack_tree.py"

APP_MODULE = '''
from celery import Celery
app = Celery("gateapp", broker={broker!r})
app.conf.broker_connection_retry = False
app.conf.broker_connection_max_retries = 0
app.conf.broker_connection_timeout = 1
'''


def run(program: Path, *args: str, cwd=None, env=None, timeout=60):
    """As a role runs it: the program's text through python -c, then its arguments. Celery
    reads CELERY_* variables before an app's own settings: none of this process's (other
    suites set some) reaches the program."""
    env = {k: v for k, v in (env or os.environ).items() if not k.startswith("CELERY_")}
    return subprocess.run([sys.executable, "-c", program.read_text(), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def app_dir(tmp_path: Path, broker: str) -> Path:
    (tmp_path / "gateapp.py").write_text(APP_MODULE.format(broker=broker))
    return tmp_path


def away_broker() -> tuple[str, str]:
    """A broker URL where nothing listens, with a random account in it (the gates must not
    print it), and that account."""
    account = "gate:" + secrets.token_hex(8)
    return f"amqp://{account}@127.0.0.1:{free_port()}//", account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The worker's gate ---------------------------------------------------------------

def test_the_worker_gate_expands_the_node_name_and_fails_when_no_worker_answers(tmp_path):
    result = run(WORKER_GATE, "gateapp.app", "celery@%h", cwd=app_dir(tmp_path, "memory://"))
    assert result.returncode == 1
    assert result.stdout.strip() == f"celery@{socket.gethostname()}: no answer to ping"


def test_the_worker_gate_asks_again_within_the_time_it_is_given(tmp_path):
    # A worker still starting is asked again in the same process, not failed at once.
    result = run(WORKER_GATE, "gateapp.app", "celery@w1", "--within", "2", cwd=app_dir(tmp_path, "memory://"))
    assert result.returncode == 1
    line = result.stdout.strip()
    assert line.startswith("celery@w1: no answer to ping (") and line.endswith(" tries in 2 s)")
    assert int(line.split("(")[1].split()[0]) >= 2


def test_the_worker_gate_names_the_node_and_the_error_when_the_broker_is_away(tmp_path):
    broker, account = away_broker()
    result = run(WORKER_GATE, "gateapp.app", "reports@worker1", cwd=app_dir(tmp_path, broker))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("reports@worker1: OperationalError: "), result.stderr
    assert account.split(":")[1] not in result.stdout + result.stderr


def test_the_worker_gate_asks_every_node_of_the_host_in_one_process_and_names_their_units(tmp_path):
    host = socket.gethostname()
    result = run(WORKER_GATE, "gateapp.app", "celery-worker=celery@%h", "celery-worker@reports=reports@%h",
                 cwd=app_dir(tmp_path, "memory://"))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        f"celery-worker.service: celery@{host}: no answer to ping",
        f"celery-worker@reports.service: reports@{host}: no answer to ping",
    ]


def test_the_worker_gate_names_each_unit_with_the_brokers_error(tmp_path):
    broker, account = away_broker()
    result = run(WORKER_GATE, "gateapp.app", "celery-worker=celery@w1", "celery-worker@bulk=bulk@w1",
                 cwd=app_dir(tmp_path, broker))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()[-2:]
    assert lines[0].startswith("celery-worker.service: celery@w1: OperationalError: "), result.stderr
    assert lines[1].startswith("celery-worker@bulk.service: bulk@w1: OperationalError: "), result.stderr
    assert account.split(":")[1] not in result.stdout + result.stderr


def test_the_worker_gate_fails_on_an_app_it_cannot_load(tmp_path):
    result = run(WORKER_GATE, "nosuchapp.app", "celery@%h", cwd=tmp_path)
    assert result.returncode != 0
    assert "nosuchapp" in result.stderr


# --- Beat's gate ---------------------------------------------------------------------

FAKE_SYSTEMCTL = """#!/bin/sh
# systemctl show UNIT --property=ActiveState --property=MainPID ..., from the test's
# files: the states ("STATE PID [START_USEC]") it answers in turn, one per call.
n=$(cat "$FAKE_DIR/calls" 2>/dev/null || echo 0)
echo $((n + 1)) > "$FAKE_DIR/calls"
line=$(sed -n "$((n + 1))p" "$FAKE_DIR/states")
[ -n "$line" ] || line=$(tail -n 1 "$FAKE_DIR/states")
set -- $line
echo "ActiveState=$1"
echo "MainPID=$2"
echo "ExecMainStartTimestampMonotonic=${3:-0}"
"""


@pytest.fixture
def beat(tmp_path):
    """A host where systemctl answers what the test says, the app on a broker in memory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(0o755)
    app_dir(tmp_path, "memory://")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_DIR=str(tmp_path))

    def gate(states: list[str], pidfile_text: str | None, broker: str = "memory://"):
        app_dir(tmp_path, broker)
        (tmp_path / "states").write_text("\n".join(states) + "\n")
        (tmp_path / "calls").unlink(missing_ok=True)
        pidfile = tmp_path / "beat.pid"
        pidfile.unlink(missing_ok=True)
        if pidfile_text is not None:
            pidfile.write_text(pidfile_text)
        return run(BEAT_GATE, "gateapp.app", "celery-beat", str(pidfile), cwd=tmp_path, env=env)
    gate.dir = tmp_path
    return gate


def test_beat_gate_passes_a_beat_that_started_reaches_the_broker_and_stays_up(beat):
    result = beat(["active 4242"], "4242\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "celery-beat: process 4242 runs beat, broker reachable"


def test_beat_gate_fails_an_inactive_unit(beat):
    result = beat(["failed 0"], None)
    assert (result.returncode, result.stderr.strip()) == (1, "celery-beat: failed")


def test_beat_gate_waits_for_the_process_to_write_its_pidfile(beat):
    result = beat(["active 4242"], None)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("celery-beat: process 4242 has not started beat yet (" +
                                          result.args[-1] + ": none)")


def test_beat_gate_fails_a_beat_restarted_under_it(beat):
    result = beat(["active 4242", "active 4343"], "4242")
    assert (result.returncode, result.stderr.strip()) == (1, "celery-beat: process 4242 did not stay up")


def test_beat_gate_fails_a_beat_restarted_under_it_even_after_a_long_run(beat):
    # Up for a minute: no more waiting, but the process is still asked again.
    started = int((time.monotonic() - 60) * 1e6)
    result = beat([f"active 4242 {started}", f"active 4343 {started}"], "4242")
    assert (result.returncode, result.stderr.strip()) == (1, "celery-beat: process 4242 did not stay up")
    assert (beat.dir / "calls").read_text().strip() == "2"


def test_beat_gate_waits_only_until_the_process_has_run_two_seconds():
    sys.path.insert(0, str(BEAT_GATE.parent))
    try:
        from beat_gate import still_to_wait
    finally:
        sys.path.pop(0)
    assert still_to_wait(str(int(10e6)), 70.0) == 0.0
    assert still_to_wait(str(int(69.5e6)), 70.0) == 1.5
    # No start time known, or a clock that looks backwards: the whole two seconds.
    assert still_to_wait("0", 70.0) == still_to_wait("", 70.0) == still_to_wait(str(int(80e6)), 70.0) == 2.0


def test_beat_gate_names_the_broker_it_cannot_reach(beat):
    broker, account = away_broker()
    result = beat(["active 4242"], "4242", broker=broker)
    assert result.returncode == 1
    assert account.split(":")[1] not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("celery-beat: broker: OperationalError: ")


# --- Flower's gate -------------------------------------------------------------------

class FakeFlower(BaseHTTPRequestHandler):
    health = "OK"
    user = "admin:pass word"
    workers = {"celery@worker1": {}, "reports@worker1": {}}

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/healthcheck":
            body = self.health.encode()
        elif self.path == "/api/workers?refresh=true":
            wanted = "Basic " + base64.b64encode(self.user.encode()).decode()
            if self.headers.get("Authorization") != wanted:
                self.send_error(401)
                return
            body = json.dumps(self.workers).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flower():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeFlower)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    def gate(basic_auth: str, health: str = "OK"):
        FakeFlower.health = health
        env = dict(os.environ, FLOWER_BASIC_AUTH=basic_auth)
        return run(FLOWER_GATE, base, env=env)
    yield gate
    server.shutdown()


def test_flower_gate_logs_in_as_the_first_user_and_lists_the_workers(flower):
    result = flower("admin:pass word,other:x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": healthcheck OK, the API lists 2 worker(s): celery@worker1, reports@worker1")


def test_flower_gate_fails_when_the_login_is_refused_without_printing_the_password(flower):
    result = flower("admin:wrong secret")
    assert result.returncode == 1
    assert "HTTP Error 401" in result.stderr and "wrong secret" not in result.stdout + result.stderr


def test_flower_gate_fails_when_the_health_check_is_not_ok(flower):
    result = flower("admin:pass word", health="starting")
    assert result.returncode == 1
    assert result.stderr.strip().endswith("healthcheck answered 'starting'")


def test_flower_gate_fails_when_nothing_listens():
    result = run(FLOWER_GATE, f"http://127.0.0.1:{free_port()}/", env=dict(os.environ, FLOWER_BASIC_AUTH="a:b"))
    assert result.returncode == 1
    assert "Connection refused" in result.stderr


# --- Shipping a build's files ------------------------------------------------------

def test_a_shipped_tree_unpacks_as_root_with_its_directories_and_contents(tmp_path):
    import tarfile
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "src" / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "src" / "pkg" / "mod.py").chmod(0o600)
    files = [{"src": str(tmp_path / "src" / "pkg" / "mod.py"), "path": "pkg/mod.py", "state": "file"},
             {"src": str(tmp_path / "src" / "pyproject.toml"), "path": "pyproject.toml", "state": "file"}]
    archive = tmp_path / "files.tar"
    result = subprocess.run([sys.executable, str(PACK), str(archive)], input=json.dumps(files), text=True,
                            capture_output=True)
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as tar:
        members = {m.name: (m.isdir(), oct(m.mode), m.uid, m.gid) for m in tar.getmembers()}
        assert members == {"pkg": (True, "0o755", 0, 0), "pkg/mod.py": (False, "0o644", 0, 0),
                           "pyproject.toml": (False, "0o644", 0, 0)}
        tar.extractall(tmp_path / "out", filter="data")
    assert (tmp_path / "out" / "pkg" / "mod.py").read_text() == "X = 1\n"


def test_a_path_leaving_the_tree_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    for path in ("../f", "/etc/f"):
        result = subprocess.run([sys.executable, str(PACK), str(tmp_path / "x.tar")], text=True, capture_output=True,
                                input=json.dumps([{"src": str(tmp_path / "f"), "path": path}]))
        assert result.returncode != 0 and f"{path}: not a path inside the tree" in result.stderr


# --- Releases on disk ----------------------------------------------------------------

def release(root: Path, name: str, completed: float | None):
    (root / name / "bin").mkdir(parents=True)
    if completed is not None:
        marker = root / name / ".complete"
        marker.write_text("{}")
        os.utime(marker, (completed, completed))


def test_pruning_keeps_the_newest_complete_releases_the_current_and_the_previous(tmp_path):
    now = time.time()
    for age, name in enumerate(["r6", "r5", "r4", "r3", "r2", "r1"]):
        release(tmp_path, name, now - age * 60)
    release(tmp_path, "unfinished", None)
    # r6 and r5 are the newest two; the current is r6, the one it replaced an old r2.
    result = run(PRUNE, str(tmp_path), "2", "r6", "r2")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["r1", "r3", "r4", "unfinished"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r2", "r5", "r6"]


def test_pruning_never_removes_the_release_being_switched_to_even_unfinished(tmp_path):
    now = time.time()
    release(tmp_path, "old", now - 60)
    release(tmp_path, "new", None)
    result = run(PRUNE, str(tmp_path), "1", "new", "old")
    assert (result.returncode, result.stdout) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]


def started(run_dir: Path, copies: dict[str, str]):
    for unit, text in copies.items():
        (run_dir / unit).mkdir()
        (run_dir / unit / "test_celery.release").write_text(text)


def test_the_stale_units_are_those_named_whose_copy_differs_from_the_release_file(tmp_path):
    (tmp_path / "test_celery.release").write_text("new\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started(run_dir, {"celery-worker": "new\n", "celery-worker@reports": "old", "flower": "old", "celery-beat": "new"})
    result = run(STALE_UNITS, str(tmp_path / "test_celery.release"), f"--run-dir={run_dir}", "--",
                 "celery-worker", "celery-worker@reports", "celery-beat", "celery-worker@new")
    assert result.returncode == 0, result.stderr
    # Flower is not asked about; a new instance without a copy has not started on this release.
    assert result.stdout.split() == ["celery-worker@reports", "celery-worker@new"]


def test_the_release_this_run_records_wins_over_the_file_which_check_mode_left_alone(tmp_path):
    (tmp_path / "test_celery.release").write_text("old\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started(run_dir, {"celery-worker": "old\n"})
    args = [str(tmp_path / "test_celery.release"), f"--run-dir={run_dir}"]
    assert run(STALE_UNITS, *args, "--release=new", "--", "celery-worker").stdout.split() == ["celery-worker"]
    assert run(STALE_UNITS, *args, "--release=", "--", "celery-worker").stdout.split() == []


def test_no_release_recorded_yet_restarts_nothing(tmp_path):
    result = run(STALE_UNITS, str(tmp_path / "test_celery.release"), f"--run-dir={tmp_path}", "--release=", "--",
                 "celery-worker")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def switched(home: Path, current: str) -> Path:
    link = home / "venv"
    link.symlink_to(f"releases/{current}")
    (home / "test_celery.release").write_text("recorded\n")
    return link


def test_rollback_goes_to_the_newest_release_completed_before_the_current_one(tmp_path):
    releases = tmp_path / "releases"
    now = time.time()
    for age, name in enumerate(["r4", "r3", "r2", "r1"]):
        release(releases, name, now - age * 60)
    release(releases, "unfinished", None)
    link = switched(tmp_path, "r3")
    result = run(ROLLBACK, str(releases), str(link), str(tmp_path / "test_celery.release"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"switched {link} from release r3 to r2"
    assert os.readlink(link) == "releases/r2"
    # The units run another release than the recorded one now: their roles restart them.
    assert json.loads((tmp_path / "test_celery.release").read_text()) == {"rolled_back_to": "r2"}

    # Once more: further back, never to a newer release.
    assert run(ROLLBACK, str(releases), str(link), str(tmp_path / "test_celery.release")).returncode == 0
    assert os.readlink(link) == "releases/r1"


def test_rollback_counts_the_virtualenv_from_before_releases_as_the_oldest(tmp_path):
    releases = tmp_path / "releases"
    now = time.time()
    release(releases, "r1", now - 60)
    # Moved under releases/ (and marked) after r1 was built, in the same converge.
    release(releases, "before-releases", now)
    link = switched(tmp_path, "r1")
    result = run(ROLLBACK, str(releases), str(link), str(tmp_path / "test_celery.release"))
    assert result.returncode == 0, result.stderr
    assert os.readlink(link) == "releases/before-releases"
    result = run(ROLLBACK, str(releases), str(link), str(tmp_path / "test_celery.release"))
    assert result.returncode == 1
    assert "no complete release" in result.stderr and "older than the current one (before-releases)" in result.stderr


def test_rollback_with_nothing_before_changes_nothing(tmp_path):
    releases = tmp_path / "releases"
    release(releases, "r1", time.time())
    link = switched(tmp_path, "r1")
    result = run(ROLLBACK, str(releases), str(link), str(tmp_path / "test_celery.release"))
    assert result.returncode == 1
    assert (result.stdout, os.readlink(link)) == ("", "releases/r1")
    assert (tmp_path / "test_celery.release").read_text() == "recorded\n"


# --- The workers' drain before a broker's restart -------------------------------------

WORKER_DRAIN = ROOT / "roles" / "celery_worker" / "files" / "worker_drain.py"


def drain_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("worker_drain", WORKER_DRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_drain_picks_the_workers_connected_to_the_broker_by_its_name_or_over_its_loopback():
    drain = drain_module()
    stats = {
        "celery@worker1.example.internal": {"broker": {"hostname": "mq1.example.internal"}},
        "reports@worker1.example.internal": {"broker": {"hostname": "mq2.example.internal"}},
        "celery@worker2.example.internal": {"broker": {"hostname": "10.0.0.11"}},
        "celery@mq1.example.internal": {"broker": {"hostname": "127.0.0.1"}},
        "celery@mq2": {"broker": {"hostname": "localhost"}},
        "odd@worker3": {},
    }
    assert drain.connected_to(stats, ["mq1.example.internal"]) == ["celery@mq1.example.internal",
                                                                   "celery@worker1.example.internal"]
    assert drain.connected_to(stats, ["10.0.0.11"]) == ["celery@worker2.example.internal"]


def test_the_drain_waits_for_running_and_reserved_tasks_and_for_workers_that_did_not_answer():
    drain = drain_module()
    nodes = ["a@h", "b@h", "c@h", "d@h"]
    active = {"a@h": [], "b@h": [{"id": "1"}], "c@h": []}
    reserved = {"a@h": [], "b@h": [], "c@h": [{"id": "2"}], "d@h": []}
    assert drain.holding(active, reserved, nodes) == ["b@h", "c@h", "d@h"]
    assert drain.holding({"a@h": []}, {"a@h": []}, ["a@h"]) == []
    assert drain.holding(None, None, ["a@h"]) == ["a@h"]


def test_the_drain_pauses_nobody_when_no_worker_answers(tmp_path):
    app = app_dir(tmp_path, "memory://")
    state = tmp_path / "paused.json"
    done = run(WORKER_DRAIN, "gateapp", "--state", str(state), "--within", "1", "pause", "mq1.example.internal",
               cwd=app, env={**os.environ, "PYTHONPATH": str(app)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"paused": {}, "busy": []}
    assert not state.exists()


def test_the_drain_matches_loopback_workers_by_a_host_name_and_never_by_an_address():
    drain = drain_module()
    stats = {"celery@mq1": {"broker": {"hostname": "127.0.0.1"}},
             "celery@10": {"broker": {"hostname": "127.0.0.1"}}}
    assert drain.connected_to(stats, ["10.0.0.11", "mq1.example.internal"]) == ["celery@mq1"]
    assert drain.connected_to(stats, ["10.0.0.11"]) == []


class FakeControl:
    """Celery's app.control as the drain uses it: two workers on mq1, one on mq2."""

    def __init__(self, fail_cancel=False):
        self.fail_cancel = fail_cancel
        self.cancelled, self.added = [], []
        self.holds = {"a@w1": 2, "b@w2": 0}

    def inspect(self, destination=None, timeout=None):
        control = self

        class Inspect:
            def stats(self):
                return {"a@w1": {"broker": {"hostname": "mq1"}}, "b@w2": {"broker": {"hostname": "mq1"}},
                        "c@w3": {"broker": {"hostname": "mq2"}}}

            def active_queues(self):
                return {node: [{"name": "celery", "exchange": {"name": "celery", "type": "direct"},
                                "routing_key": "celery", "queue_arguments": {"x-queue-type": "quorum"}}]
                        for node in destination}

            def active(self):
                # each look, a worker finishes one of the tasks it holds
                for node in control.holds:
                    control.holds[node] = max(0, control.holds[node] - 1)
                return {node: [{}] * control.holds[node] for node in destination}

            def reserved(self):
                return {node: [] for node in destination}
        return Inspect()

    def cancel_consumer(self, queue, destination=None, reply=True, timeout=None):
        if self.fail_cancel and destination == ["b@w2"]:
            raise OSError("connection reset")
        self.cancelled.append((queue, destination[0]))

    def add_consumer(self, queue, destination=None, options=None, **exchange):
        self.added.append((queue, destination[0], options))
        return [{destination[0]: {"ok": "add consumer"}}]


def test_the_drain_pauses_the_workers_of_that_broker_until_they_hold_nothing_then_resumes_them(monkeypatch, tmp_path):
    drain = drain_module()
    monkeypatch.setattr(drain.time, "sleep", lambda seconds: None)
    control = FakeControl()
    app = type("App", (), {"control": control})()
    kept = tmp_path / "paused.json"
    state = drain.pause(app, ["mq1"], within=60, state=str(kept))
    assert sorted(state["paused"]) == ["a@w1", "b@w2"] and state["busy"] == []
    assert control.cancelled == [("celery", "a@w1"), ("celery", "b@w2")] and control.holds["a@w1"] == 0
    assert sorted(json.loads(kept.read_text())) == ["a@w1", "b@w2"]
    assert drain.resume_all(app, str(kept)) == {"resumed": ["a@w1", "b@w2"], "missing": []}
    assert control.added[0] == ("celery", "a@w1", {"queue_arguments": {"x-queue-type": "quorum"}})
    assert not kept.exists()


def test_a_drain_that_fails_half_way_keeps_every_worker_it_may_have_paused_for_the_resume(tmp_path):
    drain = drain_module()
    control = FakeControl(fail_cancel=True)
    app = type("App", (), {"control": control})()
    kept = tmp_path / "paused.json"
    state = drain.pause(app, ["mq1"], within=60, state=str(kept))
    assert sorted(state["paused"]) == ["a@w1", "b@w2"]
    assert state["busy"] == ["a@w1", "b@w2"] and "connection reset" in state["error"]
    # the next run's resume finds them in the file
    assert drain.resume_all(app, str(kept))["resumed"] == ["a@w1", "b@w2"]


def test_a_second_pause_keeps_the_queues_of_workers_left_paused_by_the_first(tmp_path):
    drain = drain_module()
    queue = {"name": "celery"}
    kept = {"a@w1": [queue]}
    # a@w1, still paused, consumes nothing now; what it consumed before is what resume needs
    assert drain.merged(kept, {"a@w1": [], "b@w2": [queue]}) == {"a@w1": [queue], "b@w2": [queue]}
    assert drain.merged(kept, {"a@w1": [queue, {"name": "reports"}]}) == {"a@w1": [queue, {"name": "reports"}]}


def test_a_worker_that_does_not_answer_the_resume_is_named_and_forgotten(monkeypatch, tmp_path):
    drain = drain_module()
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(drain.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(drain.time, "sleep", lambda seconds: None)
    control = FakeControl()
    control.add_consumer = lambda queue, destination=None, options=None, **exchange: []
    app = type("App", (), {"control": control})()
    kept = tmp_path / "paused.json"
    kept.write_text(json.dumps({"gone@w9": [{"name": "celery"}]}))
    assert drain.resume_all(app, str(kept)) == {"resumed": [], "missing": ["gone@w9"]}
    assert not kept.exists()
