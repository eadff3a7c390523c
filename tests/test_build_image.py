"""The image build takes its Debian mirror only from the operator: DEBIAN_MIRROR or the
host's own apt sources. A host that names none gets a clear message, not a download
from an address it never chose."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build-image.sh"


def build(apt_dir: Path, **env):
    # A prefix no image has, so the script goes past its "already built" shortcut.
    environ = {k: v for k, v in os.environ.items() if k != "DEBIAN_MIRROR"}
    environ.update(APT_ETC_DIR=str(apt_dir), CELERY_STACK_IMAGE_PREFIX="celery-stack-test/absent", **env)
    # PATH without debootstrap: a found mirror then stops at the next check instead of building.
    environ["PATH"] = "/usr/bin:/bin"
    return subprocess.run(["bash", str(SCRIPT), "12"], env=environ, capture_output=True, text=True, timeout=60)


def test_no_mirror_anywhere_stops_naming_debian_mirror(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    result = build(tmp_path)
    assert result.returncode == 1
    assert "no Debian mirror found" in result.stderr and "set DEBIAN_MIRROR" in result.stderr
    assert "debootstrap bookworm from" not in result.stderr


def test_a_one_line_source_is_used(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://mirror.test/debian bookworm main\n"
        "deb http://mirror.test/debian-security bookworm-security main\n")
    result = build(tmp_path)
    assert "no Debian mirror found" not in result.stderr
    # Without debootstrap on PATH it stops right after choosing the mirror.
    assert "debootstrap is missing" in result.stderr


def test_deb822_sources_win_over_one_line_lists(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://first.test/debian\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list").write_text("deb http://second.test/debian bookworm main\n")
    script = SCRIPT.read_text()
    # The same function the script runs, evaluated alone.
    body = script[script.index("apt_etc="):script.index("mirror=${DEBIAN_MIRROR")]
    out = subprocess.run(["bash", "-c", body + "host_mirror | head -n 1"], env=dict(os.environ, APT_ETC_DIR=str(tmp_path)),
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "http://first.test/debian"


def test_debian_mirror_variable_is_taken_as_given(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    result = build(tmp_path, DEBIAN_MIRROR="http://chosen.test/debian")
    assert "no Debian mirror found" not in result.stderr
    assert "debootstrap is missing" in result.stderr
