"""Figure 3: a cold site.yml converge of a fresh container, then the idempotent second run."""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import report
from host import ROOT, BenchError, children_cpu_seconds, container_cpu_seconds, run_site, say, start_container

CALLBACKS = ROOT / "bench" / "callback_plugins"
CONTAINER = "bench-converge"
GROUPS = ("rabbitmq", "celery_workers", "flower")
MAX_RATIO = 0.35


def measure(cfg) -> dict[str, dict]:
    remove_container()
    workdir = Path(tempfile.mkdtemp(prefix="bench-converge-"))
    try:
        say(f"converge: fresh container {CONTAINER} from {cfg.image}")
        start_container(CONTAINER, cfg.image)  # as scripts/demo.sh, no published port
        inventory = write_inventory(workdir / "inventory")
        runs = {}
        for label in ("cold", "second"):
            runs[label] = playbook(inventory, label, workdir, cfg)
            say(f"  {label:6s} run {runs[label]['seconds']:7.1f} s, "
                f"changed={runs[label]['changed']}, CPU: controller {cpu(runs[label]['cpu_controller'])}, "
                f"host {cpu(runs[label]['cpu_host'])}")
    finally:
        remove_container()
        shutil.rmtree(workdir, ignore_errors=True)
    return {CONVERGE.key: result(runs["cold"], runs["second"])}


def remove_container() -> None:
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True)


def write_inventory(inventory: Path) -> Path:
    """One fresh container in every group, with a copy of inventory/local's group_vars
    (its secrets are then generated beside the copy, not in inventory/local/.secrets)."""
    shutil.copytree(ROOT / "inventory" / "local" / "group_vars", inventory / "group_vars")
    host_line = f"        {CONTAINER}:\n"
    (inventory / "hosts.yml").write_text(
        "---\n# Written by bench/bench.py: one fresh container plays every part.\n"
        "all:\n  children:\n" + "".join(
            f"    {group}:\n      hosts:\n{host_line}" for group in GROUPS))
    return inventory


def playbook(inventory: Path, label: str, workdir: Path, cfg) -> dict:
    """One site.yml run, timed; the callback bench_timer records every task's time."""
    timer = workdir / f"timer-{label}.json"
    log = cfg.results / f"{cfg.stamp}-converge-{label}.log"
    # CPU as well as wall time: where several converges share a machine (make test's lanes),
    # the CPU they need is what sets their pace, and the host side (a Python process per
    # module a task runs there) is about as large as the controller's.
    host = container_cpu_seconds(CONTAINER)
    controller = children_cpu_seconds()
    returncode, seconds = run_site(inventory, log, {
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,bench_timer",
        "BENCH_TIMER_OUT": str(timer)})
    controller = children_cpu_seconds() - controller
    host_after = container_cpu_seconds(CONTAINER)
    if returncode != 0:
        raise BenchError(f"{label} converge failed (exit {returncode}), see {log}")
    data = json.loads(timer.read_text())
    recap = data["recap"].get(CONTAINER, {})
    slowest = sorted(data["tasks"], key=lambda t: t["seconds"], reverse=True)[:10]
    return {"seconds": round(seconds, 1), "changed": recap.get("changed"),
            "cpu_controller": round(controller, 1),
            "cpu_host": round(host_after - host, 1) if host is not None and host_after is not None else None,
            "recap": recap, "tasks": len(data["tasks"]),
            "log": str(log.relative_to(ROOT)) if log.is_relative_to(ROOT) else str(log),
            "slowest": [{"task": t["name"], "seconds": t["seconds"]} for t in slowest]}


def result(cold: dict, second: dict) -> dict:
    ratio = second["seconds"] / cold["seconds"]
    return {"unit": "s", "cold": cold, "second": second, "ratio": round(ratio, 3),
            "target": f"second run changed=0 and <= {MAX_RATIO} x cold",
            "pass": second["changed"] == 0 and ratio <= MAX_RATIO}


def cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def cpu_row(measure: str, key: str, second: dict, cold: dict) -> report.Row:
    a, b = second.get(key), cold.get(key)
    ratio = f"{a / b:.3f}" if a is not None and b else ""
    return report.Row(measure, cpu(a), cpu(b), ratio, "none", "INFO")


def rows(fig: dict) -> list[report.Row]:
    second, cold = fig["second"], fig["cold"]
    return [
        report.Row("wall time", report.seconds(second["seconds"]),
                   report.seconds(cold["seconds"]), f"{fig['ratio']:.3f}",
                   f"<= {MAX_RATIO}", report.mark(fig["ratio"] <= MAX_RATIO)),
        report.Row("tasks changed", str(second["changed"]), str(cold["changed"]), "",
                   "0 the second time", report.mark(second["changed"] == 0)),
        cpu_row("CPU, controller", "cpu_controller", second, cold),
        cpu_row("CPU, host", "cpu_host", second, cold),
    ]


def notes(fig: dict) -> list[str]:
    out = []
    for run in ("cold", "second"):
        out.append(f"\n3 ten slowest tasks of the {run} converge "
                   f"({fig[run]['tasks']} tasks in all):")
        out += [f"  {t['seconds']:8.1f} s  {t['task']}" for t in fig[run]["slowest"]]
    return out


CONVERGE = report.Figure("3", "3_converge", "3", "converge of site.yml",
                         ("second run", "cold run"), rows, notes)
