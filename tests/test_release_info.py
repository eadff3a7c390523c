"""What an app host runs now, read in one call (plugins/modules/celery_release_info.py):
the role skips a build, switches the link and puts settings back by what it returns."""

import base64
import os
from pathlib import Path

from support.plugins import load

info = load("celery_release_info", Path(__file__).resolve().parent.parent / "plugins" / "modules" / "celery_release_info.py")


def read(home: Path, **options):
    defaults = dict(venv=str(home / "venv"), release_file=str(home / "app.release"),
                    settings_files=[str(home / "celery.env"), str(home / "ca.pem")], leftovers=["bin", "build"])
    return info.release_info(str(home), **{**defaults, **options})


def release(home: Path, name: str, complete: bool = True):
    (home / "releases" / name / "bin").mkdir(parents=True)
    if complete:
        (home / "releases" / name / ".complete").write_text("{}")


def test_a_new_host_has_no_release_no_settings_and_no_link(tmp_path):
    assert read(tmp_path) == {
        "release": None, "settings": [], "leftovers": [], "complete_releases": [],
        "venv": {"exists": False, "islnk": False, "isdir": False, "lnk_target": "", "owner": ""},
    }


def test_a_deployed_host_returns_its_release_its_settings_and_its_link(tmp_path):
    release(tmp_path, "aaa")
    release(tmp_path, "bbb")
    release(tmp_path, "ccc", complete=False)  # an interrupted build
    os.symlink("releases/bbb", tmp_path / "venv")
    (tmp_path / "app.release").write_text("bbb-settings\n")
    (tmp_path / "celery.env").write_bytes(b"CELERY_STACK_APP=orders.app\nCELERY_WORKER_PREFETCH=1 # \xc3\xbc\n")

    found = read(tmp_path)

    assert found["release"] == "bbb-settings\n"
    # Only the files that exist, with their exact bytes, as the undo writes them back.
    assert [entry["source"] for entry in found["settings"]] == [str(tmp_path / "celery.env")]
    assert base64.b64decode(found["settings"][0]["content"]) == b"CELERY_STACK_APP=orders.app\nCELERY_WORKER_PREFETCH=1 # \xc3\xbc\n"
    assert found["complete_releases"] == ["aaa", "bbb"]
    assert found["venv"]["islnk"] and not found["venv"]["isdir"]
    assert found["venv"]["lnk_target"] == "releases/bbb"
    assert found["venv"]["owner"]


def test_a_virtualenv_from_before_releases_is_a_directory_not_a_link(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    venv = read(tmp_path)["venv"]
    assert venv["exists"] and venv["isdir"] and not venv["islnk"] and venv["lnk_target"] == ""


def test_only_the_leftovers_asked_for_and_present_are_returned(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "switched-from").write_text("old")
    assert read(tmp_path)["leftovers"] == [str(tmp_path / "build")]
    assert read(tmp_path, leftovers=["switched-from", "bin"])["leftovers"] == [str(tmp_path / "switched-from")]


def test_a_settings_file_it_may_not_read_is_an_error_not_an_absent_file(tmp_path):
    (tmp_path / "celery.env").mkdir()  # reading a directory fails, as an unreadable file would
    try:
        read(tmp_path)
    except OSError as error:
        assert error.filename == str(tmp_path / "celery.env")
    else:
        raise AssertionError("an unreadable settings file was taken for an absent one")
