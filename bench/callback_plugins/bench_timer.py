"""Ansible callback for bench/: wall time of every task and the recap, as JSON.

Enabled by bench/bench.py for its converge runs only (ANSIBLE_CALLBACK_PLUGINS points
here, ANSIBLE_CALLBACKS_ENABLED names it); writes to the file named by BENCH_TIMER_OUT.
A task lasts from its start until the next task (or the end of the play) starts, the
way ansible.posix.profile_tasks counts, so handlers and loops are included.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: bench_timer
    type: aggregate
    short_description: task wall times and recap counts as JSON, for bench/
    description:
      - Writes every task's wall time and the per-host recap to the file in BENCH_TIMER_OUT.
    requirements:
      - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = os.environ.get("BENCH_TIMER_OUT")
        self._started = time.monotonic()
        self._play = None
        self._tasks = []
        self._current = None

    def _close_current(self):
        if self._current is not None:
            self._current["seconds"] = round(time.monotonic() - self._current.pop("_t0"), 3)
            self._tasks.append(self._current)
            self._current = None

    def _open(self, task, handler=False):
        self._close_current()
        self._current = {
            "name": task.get_name(),
            "play": self._play,
            "path": task.get_path(),
            "handler": handler,
            "_t0": time.monotonic(),
        }

    def v2_playbook_on_play_start(self, play):
        self._close_current()
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._open(task, handler=True)

    def v2_playbook_on_stats(self, stats):
        self._close_current()
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        if not self._out:
            return
        with open(self._out, "w", encoding="utf-8") as handle:
            json.dump({"seconds": round(time.monotonic() - self._started, 3),
                       "recap": recap, "tasks": self._tasks}, handle, indent=1)
