"""Per-step wall times from the output of `molecule test`.

Molecule (26.x) opens and closes every step of the test sequence with a log line:

    INFO     default ➜ converge: Executing
    INFO     default ➜ converge: Executed: Successful
    ERROR    default ➜ verify: Executed: Failed (...)

or, with colours off, `INFO     [default > converge] Executing`. The lines carry no time,
so the time comes from one of two places, best first:

1. a time stamp at the start of every line: the bench writes the time each line arrived
   (ISO 8601 with milliseconds) when it runs Molecule itself; `ts` output (its default
   "Nov 25 09:05:07", or ISO and epoch formats) is read too. The step times are then exact.
2. the profile_tasks callback this project enables for Molecule's Ansible runs: each task
   banner holds the wall clock (to the second) and the time since that playbook started
   (to the millisecond). A step then lasts about as long as its playbook ran; what
   Molecule and ansible-playbook spend starting up is not seen, so steps and the total
   are estimates, marked as such.

Anything else yields the steps and their outcome, without times.

Run on its own: python3 bench/molecule_log.py LOGFILE
"""

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# A step line: level, then "scenario ➜ step:" (colour on) or "[scenario > step]" (off).
STEP = re.compile(
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+"
    r"(?:(?P<scenario>[\w.-]+) ➜ (?P<step>[\w-]+):|\[(?P<scenario2>[\w.-]+) > (?P<step2>[\w-]+)\])"
    r"\s+(?P<message>Executing|Executed: .*)$"
)
# Leading time stamps this parser understands.
ISO_STAMP = re.compile(
    r"^\[?(?P<stamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s?"
)
EPOCH_STAMP = re.compile(r"^\[?(?P<stamp>1\d{9}(?:\.\d+)?)\]?\s")
TS_STAMP = re.compile(r"^(?P<stamp>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d+)?)\s")
# profile_tasks: "Wednesday 25 November 2026  08:41:46 +0000 (0:00:00.009)       0:00:00.009"
PROFILE = re.compile(
    r"\w+day (?P<date>\d{1,2} \w+ \d{4}\s+\d{2}:\d{2}:\d{2}) [+-]\d{4} "
    r"\((?P<task>\d+:\d{2}:\d{2}\.\d+)\)\s+(?P<elapsed>\d+:\d{2}:\d{2}\.\d+)"
)


@dataclass
class Step:
    name: str
    outcome: str = "running"
    seconds: float | None = None
    start: datetime | None = field(default=None, repr=False)


@dataclass
class MoleculeRun:
    scenario: str | None
    steps: list[Step]
    total_seconds: float | None
    timing: str  # "line stamps", "profile_tasks estimate" or "none"

    @property
    def succeeded(self) -> bool:
        return bool(self.steps) and all(
            not s.outcome.startswith("Executed: Failed") and s.outcome != "running"
            for s in self.steps
        )

    def as_dict(self) -> dict:
        steps = []
        for step in self.steps:
            entry = asdict(step)
            entry.pop("start", None)
            steps.append(entry)
        return {"scenario": self.scenario, "timing": self.timing,
                "total_seconds": self.total_seconds, "succeeded": self.succeeded,
                "steps": steps}


def _duration(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _line_stamp(line: str) -> tuple[datetime | None, str]:
    """The time stamp a line starts with (if any) and the rest of the line."""
    if match := ISO_STAMP.match(line):
        text = match["stamp"].replace(",", ".").replace("Z", "+00:00")
        return datetime.fromisoformat(text), line[match.end():]
    if match := EPOCH_STAMP.match(line):
        return datetime.fromtimestamp(float(match["stamp"])), line[match.end():]
    if match := TS_STAMP.match(line):
        text = match["stamp"]
        fmt = "%b %d %H:%M:%S.%f" if "." in text else "%b %d %H:%M:%S"
        return datetime.strptime(f"{text}", fmt), line[match.end():]
    return None, line


def parse(text: str) -> MoleculeRun:
    steps: list[Step] = []
    scenario = None
    current: Step | None = None
    stamped_lines = 0
    first_stamp = last_stamp = None
    # profile_tasks estimate: per step, its playbook runs as [start clock, seconds run].
    playbooks: dict[int, list[list]] = {}

    for raw in text.splitlines():
        line = ANSI.sub("", raw).rstrip()
        stamp, line = _line_stamp(line)
        if stamp is not None:
            stamped_lines += 1
            # Day-only formats (ts) roll over at midnight: keep the clock moving forward.
            if last_stamp is not None and stamp < last_stamp - timedelta(hours=12):
                stamp += timedelta(days=1)
            first_stamp = first_stamp or stamp
            last_stamp = stamp
        if match := STEP.search(line):
            scenario = match["scenario"] or match["scenario2"]
            name = match["step"] or match["step2"]
            if match["message"] == "Executing":
                current = Step(name=name, start=stamp)
                steps.append(current)
            elif current is not None and current.name == name:
                current.outcome = match["message"]
                if stamp is not None and current.start is not None:
                    current.seconds = round((stamp - current.start).total_seconds(), 3)
                current = None
            continue
        if current is not None and (match := PROFILE.search(line)):
            clock = datetime.strptime(" ".join(match["date"].split()), "%d %B %Y %H:%M:%S")
            elapsed = _duration(match["elapsed"])
            runs = playbooks.setdefault(len(steps) - 1, [])
            if not runs or elapsed < runs[-1][1]:  # the count restarted: another playbook
                runs.append([clock - timedelta(seconds=elapsed), elapsed])
            else:
                runs[-1][1] = elapsed

    finished = [s for s in steps if s.outcome != "running"]
    if stamped_lines and finished and all(s.seconds is not None for s in finished):
        total = round((last_stamp - first_stamp).total_seconds(), 3)
        return MoleculeRun(scenario, steps, total, "line stamps")

    if playbooks:
        for index, step in enumerate(steps):
            step.seconds = round(sum(run[1] for run in playbooks.get(index, [])), 3)
        runs = [run for index in sorted(playbooks) for run in playbooks[index]]
        end = runs[-1][0] + timedelta(seconds=runs[-1][1])
        total = round((end - runs[0][0]).total_seconds(), 3)
        return MoleculeRun(scenario, steps, total, "profile_tasks estimate")

    return MoleculeRun(scenario, steps, None, "none")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as handle:
        run = parse(handle.read())
    print(json.dumps(run.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
