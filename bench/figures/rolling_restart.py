"""Figure 8: a rolling restart of three clustered brokers during a steady publish, with
the workers drained off each broker first and without.

Measured on the bench's cluster (layout.CLUSTER: three brokers, one worker), converged
with site.yml. Each run is playbooks/rabbitmq-restart.yml as deployed (side A: before a
node stops, the celery_worker role's drain command pauses the workers connected to it
until they hold no task, and resumes them once it is back) or with
`-e rabbitmq_drain_host=` (side B: restart.yml skips the drain and the resume when that
host is empty), alternately.

While the playbook runs, a producer on the worker host (driver.py steady: the app's
account, environment file and settings, so publisher confirms and the failover list of
the three brokers) publishes the bundled app's record_run every BENCH_RESTART_EVERY_MS,
from a few seconds before the playbook starts until a few seconds after it ends, and
times every call. Before it starts, BENCH_RESTART_LONG tasks of 30 s are sent and
running (one per pool process by default): what a drain has to wait for, and what runs
again when a broker goes down under it. record_run notes every start and finish on the
worker host; that ledger says afterwards which task ran twice and which never ran.

The figures of a run: the playbook's wall time, and the longest stall of the producer
(longest_stall below), with the ledger's counts as information.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from functools import partial

import report
from demo import Demo, alternate, driver_answer
from host import BenchError, run_playbook, say
from layout import RECORD_DIR

# The bundled app's task that notes "start TOKEN" and "done TOKEN" (app/src/test_celery).
TASK = "test_celery.tasks.record_run"
RUNS_LOG = f"{RECORD_DIR}/runs.log"
PLAYBOOK = "playbooks/rabbitmq-restart.yml"
DRAINED, NOT_DRAINED = "drained", "not drained"
# What each side adds to the playbook's command line: an empty drain host switches the
# drain off (roles/rabbitmq/tasks/restart.yml: its tasks run only for a host named).
PLAYBOOK_ARGS = {DRAINED: (), NOT_DRAINED: ("-e", "rabbitmq_drain_host=")}
# The task of restart.yml that pauses the workers; its outcome per broker is in the log.
DRAIN_TASK = "Move the consumers off this node until they hold no task"
LONG_SECONDS = 30
# The producer publishes this long before the playbook starts and after it ends, so that
# the stalls at either end are seen whole.
MARGIN_S = 3.0
# How long the ledger waits for every task to have run, after the restart: a task of 30 s
# that ran again may run a third time behind another.
COLLECT_S = 300.0


# --- the pure part: stalls, the ledger, the drain in the log, the figure -------------------

def confirmations(records: list[list[float]]) -> list[float]:
    """When each publish that succeeded returned (confirmed), in order."""
    return sorted(returned for _, returned, ok in records if ok)


def longest_stall(records: list[list[float]], start: float, end: float,
                  stop: float) -> float:
    """The longest time the producer went without a confirmed publish during the restart.

    `records` are the producer's [called, returned, ok]; `start` and `end` the restart
    playbook's, and `stop` when the producer was stopped, all in the same seconds. The
    gaps counted are those between consecutive confirmations from the last one before
    `start` to the first one after `end`; without one after `end` the last gap ends at
    `stop` (the producer was still waiting). At the fixed rate the gap is the interval
    plus the call's time, so a stall shows as a gap well above the interval.
    """
    confirmed = confirmations(records)
    before = [c for c in confirmed if c < start]
    during = [c for c in confirmed if start <= c <= end]
    after = [c for c in confirmed if c > end][:1] or [stop]
    points = before[-1:] + during + after
    if len(points) < 2:
        raise BenchError("the producer confirmed no publish around the restart")
    return max(later - earlier for earlier, later in zip(points, points[1:]))


def longest_call(records: list[list[float]], start: float, end: float) -> float:
    """The longest single publish call made during the restart (information)."""
    return max((returned - called for called, returned, _ in records
                if start <= called <= end), default=0.0)


def notes(lines: list[str]) -> tuple[Counter, Counter]:
    """How often each token started and finished, from record_run's lines."""
    started, done = Counter(), Counter()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("start", "done"):
            (started if parts[0] == "start" else done)[parts[1]] += 1
    return started, done


def ledger(lines: list[str], tokens: list[str]) -> dict:
    """Of the tokens sent: how many finished, never finished (lost), started more than
    once (twice: at-least-once delivery ran it again), and how many runs there were."""
    started, done = notes(lines)
    return {"sent": len(tokens),
            "completed": sum(1 for t in tokens if done[t]),
            "lost": sum(1 for t in tokens if not done[t]),
            "twice": sum(1 for t in tokens if started[t] > 1),
            "executions": sum(started[t] for t in tokens)}


def start_times(lines: list[str], token: str) -> list[float]:
    """When each run of the token started ("start TOKEN PID TIME", the epoch)."""
    return [float(parts[3]) for parts in (line.split() for line in lines)
            if len(parts) >= 4 and parts[:2] == ["start", token]]


def ran_twice(lines: list[str], records: list[list[float]], case: str,
              origin: float) -> list[dict]:
    """For each of the producer's tasks that ran more than once (the first 20): when it
    was published, how long that call took, and when each run started, in seconds from
    `origin` (the restart's start, the epoch) -- whether the producer sent it twice or a
    worker ran it again."""
    found = []
    for index, (called, returned, _) in enumerate(records):
        starts = start_times(lines, f"{case}-{index}")
        if len(starts) > 1:
            found.append({"token": f"{case}-{index}", "published_s": round(called, 3),
                          "call_s": round(returned - called, 3),
                          "started_s": [round(t - origin, 3) for t in starts]})
        if len(found) == 20:
            break
    return found


def settled(lines: list[str], tokens: list[str]) -> bool:
    """Every token has finished, and nothing of theirs runs (each start has finished)."""
    started, done = notes(lines)
    return all(done[t] and done[t] >= started[t] for t in tokens)


def drains(log: str) -> dict[str, int]:
    """The drain task's outcome per broker in the playbook's output: `paused` when it
    paused a worker (changed), `ran` when it ran at all (changed or ok)."""
    found = {"ran": 0, "paused": 0}
    for block in re.split(r"^TASK \[", log, flags=re.M)[1:]:
        if DRAIN_TASK not in block.splitlines()[0]:
            continue
        for line in block.splitlines()[1:]:
            if line.startswith(("changed: [", "ok: [")):
                found["ran"] += 1
                found["paused"] += line.startswith("changed: [")
    return found


def check_drains(side: str, found: dict[str, int], brokers: int) -> None:
    """The drain ran before every broker's stop on the drained side, and never on the
    other: a side that did not get its setting would measure the other side twice."""
    wanted = brokers if side == DRAINED else 0
    if found["ran"] != wanted:
        raise BenchError(f"{side}: the drain ran for {found['ran']} of {brokers} brokers, "
                         f"not {wanted}")


def publish_run(answer: dict, start: float, end: float, stop: float) -> dict:
    """The producer's figures for one run; times in seconds since the producer's t0."""
    records = answer["records"]
    during = [r for r in records if start <= r[0] <= end]
    return {"stall_s": round(longest_stall(records, start, end, stop), 3),
            "longest_call_s": round(longest_call(records, start, end), 3),
            "published": len(records), "published_during": len(during),
            "failed": sum(1 for r in records if not r[2]),
            "errors": answer.get("errors", {})}


def values(runs: dict[str, list[dict]], side: str, key: str) -> list[float]:
    return [run[key] for run in runs[side]]


def result(runs: dict[str, list[dict]], where: dict | None = None) -> dict:
    """Both sides' restart times and stalls (medians, ranges, the pairs' ratios), and the
    ledger's counts of each, as information."""
    sides = ROLLING_RESTART.sides
    return {
        "restart_s": report.compare(values(runs, DRAINED, "restart_s"),
                                    values(runs, NOT_DRAINED, "restart_s"), sides),
        "stall_s": report.compare(values(runs, DRAINED, "stall_s"),
                                  values(runs, NOT_DRAINED, "stall_s"), sides, digits=3),
        **{key: {side: report.summary(values(runs, name, key), 0)
                 for side, name in zip(sides, (DRAINED, NOT_DRAINED))}
           for key in ("twice", "lost", "failed")},
        # Of those run twice, the tasks of 30 s: a worker's reruns; the others are the
        # producer's (see ran_twice).
        "twice_long": {side: report.summary([run["long"]["twice"] for run in runs[name]], 0)
                       for side, name in zip(sides, (DRAINED, NOT_DRAINED))},
        "runs": {side: runs[name] for side, name in zip(sides, (DRAINED, NOT_DRAINED))},
        "where": where or {},
    }


def rows(fig: dict) -> list[report.Row]:
    def counts(measure: str, key: str) -> report.Row:
        side_a, side_b = fig[key].values()
        return report.Row(measure, report.count(side_a), report.count(side_b), "", "none",
                          "INFO")
    return [report.comparison_row("restart s", fig["restart_s"], partial(report.fixed,
                                                                         places=1)),
            report.comparison_row("longest publish stall s", fig["stall_s"],
                                  partial(report.fixed, places=2)),
            counts("tasks run twice", "twice"),
            counts(f"of them {LONG_SECONDS} s tasks", "twice_long"),
            counts("tasks lost", "lost"), counts("publishes failed", "failed")]


ROLLING_RESTART = report.Figure(
    "8", "8_rolling_restart", "8",
    "rolling restart of 3 brokers under a steady publish", ("drained", "not drained"),
    rows)


# --- the measurement --------------------------------------------------------------------

def measure(demo: Demo, cfg) -> dict[str, dict]:
    brokers = len(demo.about.get("brokers", [])) or 3
    say(f"rolling restart: {brokers} brokers, a task every {cfg.restart_every_ms} ms, "
        f"{cfg.restart_long} tasks of {LONG_SECONDS} s; {cfg.pairs} rounds of "
        f"{DRAINED}, {NOT_DRAINED}")
    runs = alternate(cfg.pairs, {side: partial(restart_run, demo, cfg, side, brokers)
                                 for side in PLAYBOOK_ARGS}, describe)
    fig = result(runs, demo.about)
    fig["setup"] = {"every_ms": cfg.restart_every_ms, "long": cfg.restart_long,
                    "long_seconds": LONG_SECONDS, "margin_s": MARGIN_S}
    return {ROLLING_RESTART.key: fig}


def describe(run: dict) -> str:
    return (f"restart {run['restart_s']:6.1f} s, longest stall {run['stall_s']:6.2f} s, "
            f"twice {run['twice']}, lost {run['lost']}, failed publishes {run['failed']}, "
            f"drain paused {run['drains']['paused']}/{run['drains']['ran']}")


def restart_run(demo: Demo, cfg, side: str, brokers: int) -> dict:
    """One rolling restart under the producer, and the ledger of its tasks."""
    case = f"r8-{uuid.uuid4().hex[:8]}"
    # The last run's resume, or the worker's reconnection, must be complete.
    demo.driver("consuming", "--node", demo.spec.node, "--timeout", "180")
    long_tokens = start_long_tasks(demo, f"{case}-long", cfg.restart_long)
    log_path = cfg.results / f"{cfg.stamp}-rolling-restart-{case}.log"
    producer = Producer(demo, case, cfg.restart_every_ms / 1000.0)
    try:
        producer.start()
        time.sleep(MARGIN_S)
        start = time.time()
        returncode, seconds = run_playbook(demo.inventory, log_path, PLAYBOOK,
                                           PLAYBOOK_ARGS[side], timeout=1800)
        end = time.time()
        time.sleep(MARGIN_S)
    except BaseException:
        producer.halt()
        raise
    answer, stop = producer.stop()
    if returncode != 0:
        raise BenchError(f"{PLAYBOOK} ({side}) failed (exit {returncode}), see {log_path}")
    found = drains(log_path.read_text(encoding="utf-8", errors="replace"))
    check_drains(side, found, brokers)
    t0 = answer["t0"]
    run = publish_run(answer, start - t0, end - t0, stop - t0)
    tokens = [f"{case}-{i}" for i, (_, _, ok) in enumerate(answer["records"]) if ok]
    counts = collect(demo, tokens + long_tokens)
    lines = read_notes(demo)
    # The producer's records in seconds from the restart's start, as the runs' starts.
    records = [[called + t0 - start, returned + t0 - start, ok]
               for called, returned, ok in answer["records"]]
    return {"case": case, "restart_s": round(seconds, 1), **run,
            "twice": counts["twice"], "lost": counts["lost"], "ledger": counts,
            "long": ledger(lines, long_tokens), "drains": found,
            "ran_twice": ran_twice(lines, records, case, start), "log": str(log_path)}


def read_notes(demo: Demo) -> list[str]:
    return demo.host.out("cat", RUNS_LOG, check=False).splitlines()


def start_long_tasks(demo: Demo, case: str, count: int) -> list[str]:
    """`count` tasks of LONG_SECONDS, sent and running; their tokens."""
    if count == 0:
        return []
    demo.driver("send", "--task", TASK, "--case", case, "--tasks", str(count),
                "--seconds", str(LONG_SECONDS))
    tokens = [f"{case}-{i}" for i in range(count)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started, _ = notes(read_notes(demo))
        if all(started[t] for t in tokens):
            return tokens
        time.sleep(0.5)
    raise BenchError(f"the {count} tasks of {LONG_SECONDS} s did not all start within 60 s "
                     "(is the pool narrower than BENCH_RESTART_LONG?)")


def collect(demo: Demo, tokens: list[str]) -> dict:
    """The ledger once every token has run and nothing of theirs still runs, twice in a
    row a few seconds apart (a task handed back may start again right after one ends);
    as it stands after COLLECT_S otherwise (the unfinished then count as lost)."""
    deadline = time.monotonic() + COLLECT_S
    calm = 0
    while time.monotonic() < deadline:
        lines = read_notes(demo)
        calm = calm + 1 if settled(lines, tokens) else 0
        if calm == 2:
            break
        time.sleep(3)
    return ledger(read_notes(demo), tokens)


class Producer:
    """driver.py steady in the background on the worker host: started, then stopped
    with SIGTERM, upon which it prints its records."""

    def __init__(self, demo: Demo, case: str, every: float):
        self.demo, self.case, self.every = demo, case, every
        self.unit, self.proc = "", None
        self.lines: list[str] = []
        self.publishing = threading.Event()

    def start(self, timeout: float = 60) -> None:
        # Warnings (a lost connection, a retry) come on standard error: read with the
        # rest, so that a full pipe never blocks the producer.
        self.unit, self.proc = self.demo.started_driver(
            "steady", "--task", TASK, "--case", self.case, "--every", str(self.every),
            timeout=3600)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.publishing.wait(timeout):
            raise BenchError(f"the producer did not start publishing within {timeout:.0f} s: "
                             f"{' '.join(self.lines)[-800:]}")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.strip() == "publishing":
                self.publishing.set()

    def stop(self) -> tuple[dict, float]:
        """Its answer, and when it was told to stop (the epoch)."""
        stop = time.time()
        self.demo.host.run("systemctl", "kill", "--signal=SIGTERM", self.unit, check=False)
        try:
            self.proc.wait(timeout=120)
        except BaseException:
            self.halt()
            raise
        self.reader.join(timeout=10)
        text = "\n".join(self.lines)
        return driver_answer("steady", text, self.proc.returncode, text), stop

    def halt(self) -> None:
        """Stopped without an answer (after an error or an interrupt)."""
        if self.proc is None:
            return
        self.demo.host.run("systemctl", "stop", self.unit, check=False)
        self.proc.kill()
        self.proc.wait()
