"""Where bench/host.py finds a container's CPU time, for each cgroup layout an engine uses."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host import cgroup_cpu_seconds  # noqa: E402

ID = "0123abcd" * 8


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_cgroup_v1_nanoseconds(tmp_path):
    write(tmp_path, f"cpuacct/docker/{ID}/cpuacct.usage", "12500000000\n")
    assert cgroup_cpu_seconds(ID, tmp_path) == 12.5


def test_cgroup_v1_under_the_systemd_driver(tmp_path):
    write(tmp_path, f"cpuacct/system.slice/docker-{ID}.scope/cpuacct.usage", "2000000000\n")
    assert cgroup_cpu_seconds(ID, tmp_path) == 2.0


def test_cgroup_v2_microseconds(tmp_path):
    write(tmp_path, f"system.slice/docker-{ID}.scope/cpu.stat",
          "usage_usec 3250000\nuser_usec 3000000\nsystem_usec 250000\n")
    assert cgroup_cpu_seconds(ID, tmp_path) == 3.25


def test_another_containers_time_or_none_is_not_taken(tmp_path):
    write(tmp_path, f"cpuacct/docker/{'f' * 64}/cpuacct.usage", "5\n")
    assert cgroup_cpu_seconds(ID, tmp_path) is None
