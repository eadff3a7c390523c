"""Beat's deploy gate. Beat answers no ping, so the gate asks what shows it works: the
unit is active, its main process is the one that wrote beat's pidfile (it got past
loading the app), the deployed settings reach the broker it sends the tasks to, and the
same process has run for two seconds (a beat that starts and dies is restarted with a new
one). A process started longer ago has shown that already: the gate then waits no more.
Run by the app's Python: beat_gate.py APP UNIT PIDFILE; exit 0 when all hold.
"""

import subprocess
import sys
import time

from celery.app.utils import find_app

STAY_UP_SECONDS = 2.0


def show(unit: str) -> dict:
    out = subprocess.run(["systemctl", "show", unit, "--property=ActiveState", "--property=MainPID",
                          "--property=ExecMainStartTimestampMonotonic"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def state(unit: str) -> tuple:
    props = show(unit)
    return props.get("ActiveState"), props.get("MainPID")


def still_to_wait(started_usec: str, now: float) -> float:
    """Seconds left until the main process has run STAY_UP_SECONDS; all of them when systemd
    gives no start time. systemd's monotonic timestamps are CLOCK_MONOTONIC, as Python's."""
    try:
        up = now - int(started_usec) / 1e6
    except (TypeError, ValueError):
        return STAY_UP_SECONDS
    if int(started_usec) <= 0:
        return STAY_UP_SECONDS
    return min(STAY_UP_SECONDS, max(0.0, STAY_UP_SECONDS - up))


def main(argv: list[str]) -> int:
    app_name, unit, pidfile = argv[:3]
    props = show(unit)
    active, pid = props.get("ActiveState"), props.get("MainPID")
    if active != "active":
        print(f"{unit}: {active}", file=sys.stderr)
        return 1
    try:
        with open(pidfile) as file:
            started = file.read().strip()
    except OSError:
        started = ""
    if started != pid:
        print(f"{unit}: process {pid} has not started beat yet ({pidfile}: {started or 'none'})", file=sys.stderr)
        return 1
    app = find_app(app_name)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # the broker refused or could not be reached: say so in one line
        print(f"{unit}: broker: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    time.sleep(still_to_wait(props.get("ExecMainStartTimestampMonotonic"), time.monotonic()))
    if state(unit) != (active, pid):
        print(f"{unit}: process {pid} did not stay up", file=sys.stderr)
        return 1
    print(f"{unit}: process {pid} runs beat, broker reachable")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
