"""Send, watch and count record_run tasks for the fault scenario.

Runs on the host under test with the deployed virtualenv and environment file:

    faults.py send CASE N SECONDS [EVERY]
                                         queue N tasks named CASE-0 .. CASE-(N-1), each running
                                         SECONDS, one every EVERY seconds (default: at once)
    faults.py wait-started CASE K SECS   return once K of them have started
    faults.py collect CASE N SECS        wait for all N to finish; print the counts as JSON
                                         (with each start of up to 5 tasks that ran twice)
    faults.py send-poison CASE N         queue N tasks of 0 s with a poison task (CASE-poison,
                                         record_crash: it kills its worker process) among them
    faults.py dead-letter CASE K SECS    wait until the poison task started K times and waits
                                         in the dead-letter queue; print what it holds as JSON

The worker notes "start TOKEN" and "done TOKEN" lines in $TEST_CELERY_RECORD_DIR/runs.log.
With several worker hosts (molecule/cluster), wait-started and collect run on the
controller instead and read every worker's notes through `docker exec`, the hosts named
in FAULTS_WORKER_CONTAINERS (comma-separated); collect then also counts per host.
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter

RUNS = os.path.join(os.environ.get("TEST_CELERY_RECORD_DIR", "/var/lib/celery-worker"), "runs.log")
CONTAINERS = [name for name in os.environ.get("FAULTS_WORKER_CONTAINERS", "").split(",") if name]
# Seconds between two reads of the notes while waiting (wait-started, collect). Read through
# `docker exec`, a read costs about 65 ms of CPU per worker host (the engine's exec and the
# process in the container, measured on the test machine): at the local pace (0.2 s and
# 0.5 s) two hosts kept two thirds and a quarter of a core busy for as long as a case
# waited. A second or two later is soon enough to begin an operation or to end a count.
POLL_STARTED, POLL_COLLECT = (1.0, 2.0) if CONTAINERS else (0.2, 0.5)


def notes() -> dict[str, list[str]]:
    """Every worker host's lines of runs.log, by host ("" for this host)."""
    if not CONTAINERS:
        try:
            with open(RUNS) as f:
                return {"": f.read().splitlines()}
        except FileNotFoundError:
            return {"": []}
    found = {}
    for name in CONTAINERS:
        read = subprocess.run(["docker", "exec", name, "cat", RUNS], capture_output=True, text=True)
        found[name] = read.stdout.splitlines() if read.returncode == 0 else []
    return found


def events(case: str, lines: list[str] | None = None) -> tuple[Counter, Counter]:
    started, done = Counter(), Counter()
    for line in lines if lines is not None else [line for host in notes().values() for line in host]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith(case + "-"):
            (started if parts[0] == "start" else done)[parts[1]] += 1
    return started, done


def send(case: str, n: int, seconds: float, every: float = 0.0) -> None:
    import celery_stack.app  # noqa: F401 - the deployment's settings, as the workers have them
    from test_celery.tasks import record_run

    for i in range(n):
        record_run.apply_async(args=(f"{case}-{i}", seconds), ignore_result=True)
        if every:
            time.sleep(every)
    print(f"{case}: sent {n}")


def send_poison(case: str, n: int) -> None:
    import celery_stack.app  # noqa: F401
    from test_celery.tasks import record_crash, record_run

    for i in range(n):
        if i == n // 2:
            record_crash.apply_async(args=(f"{case}-poison",), ignore_result=True)
        record_run.apply_async(args=(f"{case}-{i}", 0), ignore_result=True)
    print(f"{case}: sent {n} and a poison task")


def dead_letter(case: str, k: int, timeout: float) -> None:
    """The dead-letter queue's tasks (celery_stack.dead_letters list) once the poison task
    has started K times and waits there, and how often it started."""
    import io

    from celery_stack.app import app
    from celery_stack.dead_letters import queue_name, run

    token = f"{case}-poison"
    deadline = time.monotonic() + timeout
    while True:
        started = events(case)[0][token]
        out = io.StringIO()
        with app.connection_for_write() as connection:
            run("list", [], connection, queue_name(), out=out)
        dead = [json.loads(line) for line in out.getvalue().splitlines()]
        if (started >= k and any(token in str(task.get("args")) for task in dead)) or time.monotonic() >= deadline:
            break
        time.sleep(1)
    print(json.dumps({"case": case, "deliveries": started, "dead_letters": dead}))


def wait_started(case: str, k: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started, _ = events(case)
        if len(started) >= k:
            print(f"{case}: {len(started)} started")
            return
        time.sleep(POLL_STARTED)
    sys.exit(f"{case}: fewer than {k} tasks started within {timeout} s")


def collect(case: str, n: int, timeout: float) -> None:
    tokens = [f"{case}-{i}" for i in range(n)]
    deadline = time.monotonic() + timeout
    while True:
        by_host = notes()
        started, done = events(case, [line for lines in by_host.values() for line in lines])
        finished = sum(1 for t in tokens if done[t] > 0)
        if finished == n or time.monotonic() >= deadline:
            break
        time.sleep(POLL_COLLECT)
    # A task "ran twice" when it started twice: at-least-once delivery re-runs a task whose
    # worker died (or lost the broker) before acknowledging it. Every count below comes
    # from the one read of the notes above.
    counts = {
        "case": case,
        "sent": n,
        "completed": finished,
        "lost": n - finished,
        "twice": sum(1 for t in tokens if started[t] > 1),
        "executions": sum(started[t] for t in tokens),
    }
    if CONTAINERS:
        counts["ran_on"] = {host: sum(events(case, lines)[0].values()) for host, lines in by_host.items()}
    if counts["twice"]:
        counts["twice_runs"] = twice_runs(by_host, [t for t in tokens if started[t] > 1][:5])
    print(json.dumps(counts))


def twice_runs(by_host: dict[str, list[str]], tokens: list[str]) -> dict[str, list[str]]:
    """Each start of those tokens, as "HOST: start TOKEN PID TIME ID REDELIVERED": whether
    the broker delivered a message again or the task was published twice."""
    runs = {token: [] for token in tokens}
    for host, lines in by_host.items():
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "start" and parts[1] in runs:
                runs[parts[1]].append(f"{host or 'this host'}: {line}")
    return runs


def main(argv: list[str]) -> None:
    command, case, *rest = argv
    if command == "send":
        send(case, int(rest[0]), float(rest[1]), float(rest[2]) if len(rest) > 2 else 0.0)
    elif command == "wait-started":
        wait_started(case, int(rest[0]), float(rest[1]))
    elif command == "collect":
        collect(case, int(rest[0]), float(rest[1]))
    elif command == "send-poison":
        send_poison(case, int(rest[0]))
    elif command == "dead-letter":
        dead_letter(case, int(rest[0]), float(rest[1]))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
