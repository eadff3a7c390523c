"""Run RabbitMQ's own CLI tools the way this role's modules need them.

Debian's /usr/sbin/rabbitmqctl (and its siblings), run as root, re-join their arguments
into a `su -c` shell command, so a shell would see every argument. The real tools under
/usr/lib/rabbitmq/bin are run here instead, as the rabbitmq user (whose home holds the
Erlang cookie) through runuser, and under `timeout`, so a hung call fails the task
instead of the whole run waiting.
"""

import os
import pwd

CLI_OPTIONS = dict(
    bindir=dict(type="path", default="/usr/lib/rabbitmq/bin"),
    run_as=dict(type="str", default="rabbitmq"),
    home=dict(type="path", default="/var/lib/rabbitmq"),
    timeout=dict(type="int", default=30),
)


class Cli:
    def __init__(self, module):
        self.module = module
        params = module.params
        self.bindir = params["bindir"]
        self.prefix = []
        self.owner = None
        if os.geteuid() == 0 and params["run_as"] != "root":
            runuser = module.get_bin_path("runuser", required=True)
            self.prefix = [runuser, "-u", params["run_as"], "--", "env", "HOME=" + params["home"]]
            self.owner = pwd.getpwnam(params["run_as"])
        self.timeout = module.get_bin_path("timeout", required=True)

    def call(self, tool, *args, timeout=None):
        """Run one tool; returns (rc, out, err)."""
        seconds = str(timeout or self.module.params["timeout"])
        command = [self.timeout, "--kill-after=5", seconds] + self.prefix
        command += [os.path.join(self.bindir, tool), "--quiet"] + list(args)
        return self.module.run_command(command, cwd="/")

    def run(self, tool, *args, timeout=None):
        """Run one tool and return its output; a failure fails the module."""
        rc, out, err = self.call(tool, *args, timeout=timeout)
        if rc != 0:
            self.module.fail_json(msg="%s %s failed (rc %d): %s" % (tool, args[0], rc, (err or out).strip()))
        return out
