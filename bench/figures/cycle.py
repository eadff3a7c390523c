"""Figure 4: the test cycle, `molecule test` of one scenario, per step.

It runs Molecule itself (BENCH_RUN_MOLECULE=1) or reads the output of a run made
elsewhere (BENCH_MOLECULE_LOG); see bench/README.md.
"""

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import molecule_log
import report
from host import say

ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 300
ESTIMATE = "profile_tasks estimate"  # molecule_log's timing without line stamps


def measure(cfg) -> dict[str, dict]:
    fig = {"unit": "s", "target": f"<= {MAX_SECONDS} s for both platforms",
           "scenario": cfg.molecule_scenario}
    wall = None
    if cfg.molecule_log:
        text = Path(cfg.molecule_log).read_text(encoding="utf-8", errors="replace")
        fig["source"] = cfg.molecule_log
    elif cfg.run_molecule:
        text, wall, log, returncode = run_molecule(cfg)
        fig.update(source=str(log), exit_code=returncode)
    else:
        fig.update(source=None, skipped=(
            "set BENCH_MOLECULE_LOG=<log of `molecule test`> or BENCH_RUN_MOLECULE=1"))
        say("molecule: skipped (" + fig["skipped"] + ")")
        return {CYCLE.key: fig}
    fig = result(fig, molecule_log.parse(text), wall)
    if not fig["steps"]:
        say(f"molecule: no `default ➜ STEP: Executing` lines in {fig['source']}")
    else:
        say(f"molecule: {report.seconds(fig['total_seconds'])} ({fig['timing']}), "
            f"{'succeeded' if fig['succeeded'] else 'failed or unfinished'}")
    return {CYCLE.key: fig}


def result(fig: dict, run: molecule_log.MoleculeRun, wall: float | None) -> dict:
    """The figure from the parsed log; `wall`, when Molecule ran here, is the total."""
    fig = {**fig, **run.as_dict()}
    if not run.steps:
        fig.update(note="no Molecule step lines in the log", total_seconds=None)
    if wall is not None:
        fig["total_seconds"] = round(wall, 1)
        fig["timing"] = "line stamps, total measured around the process"
    total = fig["total_seconds"]
    fig["succeeded"] = run.succeeded and fig.get("exit_code", 0) == 0
    fig["pass"] = None if total is None else (total <= MAX_SECONDS and fig["succeeded"])
    return fig


def run_molecule(cfg) -> tuple[str, float, Path, int]:
    """`molecule test`, every output line stamped with the time it arrived."""
    log = cfg.results / f"{cfg.stamp}-molecule.log"
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}")
    say(f"molecule: running `molecule test -s {cfg.molecule_scenario}` (log: {log})")
    lines = []
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(["molecule", "--base-config", ".config/molecule/config.yml", "test", "-s", cfg.molecule_scenario], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
        for line in proc.stdout:
            stamped = f"{datetime.now().isoformat(timespec='milliseconds')} {line.rstrip()}"
            lines.append(stamped)
            out.write(stamped + "\n")
        proc.wait()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        say(f"molecule exited {proc.returncode}; see {log}")
    return "\n".join(lines), wall, log, proc.returncode


def rows(fig: dict) -> list[report.Row]:
    target = f"<= {MAX_SECONDS} s"
    if fig.get("skipped"):
        return [report.Row("wall time", "not measured", target=target, mark="SKIP")]
    if not fig["steps"]:
        return [report.Row("wall time", "no steps in the log", target=target, mark="n/a")]
    # An estimate leaves out start-up times: a lower bound, marked * (see the notes).
    star = " *" if fig["timing"] == ESTIMATE else ""
    mark = report.mark(fig["pass"]) + (star.strip() if fig["pass"] else "")
    outcome = "all succeeded" if fig["succeeded"] else "FAILED"
    return [report.Row("wall time", report.seconds(fig["total_seconds"]) + star,
                       target=target, mark=mark),
            report.Row("steps", f"{len(fig['steps'])}, {outcome}")]


def notes(fig: dict) -> list[str]:
    if not fig.get("steps"):
        return []
    out = [f"\n4 molecule steps ({fig['timing']}):"]
    for step in fig["steps"]:
        secs = "-" if step["seconds"] is None else f"{step['seconds']:8.1f} s"
        out.append(f"  {secs:>10}  {step['name']:12s} {step['outcome']}")
    if fig["timing"] == ESTIMATE:
        out.append("  * estimated from profile_tasks time stamps in the log: leaves out "
                   "Molecule's and every ansible-playbook's start-up, so a lower bound; "
                   "BENCH_RUN_MOLECULE=1 times it exactly.")
    return out


CYCLE = report.Figure("4", "4_molecule", "4", "test cycle, molecule test", ("one run", ""),
                      rows, notes)
