"""dl7.locations: where things are, and what a folder walk trusts."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from dl7 import locations

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _nobody() -> int:
    return pwd.getpwnam("nobody").pw_uid


def test_the_nearest_workspace_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locations.HOME_ENV)
    (tmp_path / "outer" / ".dl7").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / ".dl7").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "deep").mkdir()
    assert locations.workspace_root(tmp_path / "outer" / "inner" / "deep") == tmp_path / "outer" / "inner"
    monkeypatch.setenv(locations.HOME_ENV, str(tmp_path / "chosen"))
    assert locations.workspace_root(tmp_path / "outer" / "inner") == tmp_path / "chosen"


def test_a_world_writable_workspace_is_passed_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locations.HOME_ENV)
    (tmp_path / "mine" / ".dl7").mkdir(parents=True)
    planted = tmp_path / "mine" / "shared" / ".dl7"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    assert locations.enclosing_workspace(planted.parent) == tmp_path / "mine"


@needs_root
def test_another_users_workspace_and_course_are_passed_by(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / ".dl7").mkdir(parents=True)
    (mine / "curriculum.yaml").write_text("format: 1\n")
    theirs = mine / "shared"
    (theirs / ".dl7").mkdir(parents=True)
    (theirs / "curriculum.yaml").write_text("format: 1\n")
    for path in (theirs / ".dl7", theirs / "curriculum.yaml"):
        os.chown(path, _nobody(), -1)
    assert locations.enclosing_workspace(theirs) == mine
    assert locations.enclosing_course(theirs) == mine / "curriculum.yaml"


@needs_root
def test_a_kernel_ignores_checkers_named_by_another_users_workspace_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".dl7").mkdir()
    info = tmp_path / ".dl7" / "workspace.json"
    info.write_text(json.dumps({"checkers": ["/elsewhere/evil.py"]}))
    assert locations.kernel_checkers(tmp_path) == ["/elsewhere/evil.py"]
    os.chown(info, _nobody(), -1)
    assert locations.kernel_checkers(tmp_path) == []


def test_the_walk_stops_at_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home" / "ada"
    (home / "work").mkdir(parents=True)
    (tmp_path / "home" / ".dl7").mkdir()  # above the home folder: never the learner's
    monkeypatch.setenv("HOME", str(home))
    assert list(locations.walk_up(home / "work")) == [home / "work", home]
    assert locations.enclosing_workspace(home / "work") is None


@pytest.mark.parametrize("text", ["[]", "not json", '"a string"', "", "{"])
def test_workspace_json_that_is_not_an_object_reads_as_empty(tmp_path: Path, text: str) -> None:
    (tmp_path / "workspace.json").write_text(text)
    assert locations.read_info(tmp_path) == {}
    assert locations.recorded_course(tmp_path) is None


def test_the_recorded_course_must_still_exist(tmp_path: Path) -> None:
    manifest = tmp_path / "curriculum.yaml"
    manifest.write_text("format: 1\n")
    (tmp_path / "workspace.json").write_text(json.dumps({"curriculum": str(manifest)}))
    assert locations.recorded_course(tmp_path) == str(manifest)
    manifest.unlink()
    assert locations.recorded_course(tmp_path) is None


def test_caches_follow_their_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locations.VALIDATE_CACHE_ENV, raising=False)
    course = tmp_path / "course"
    default = locations.validate_cache_file(course)
    assert default.name == "validate.json" and not default.is_relative_to(course), "never in the course"
    assert default.parent == locations.validate_cache_dir(tmp_path / "other" / ".." / "course")
    assert locations.validate_cache_dir(tmp_path / "other") != default.parent
    monkeypatch.setenv(locations.VALIDATE_CACHE_ENV, str(tmp_path / "v.json"))
    assert locations.validate_cache_file(tmp_path) == tmp_path / "v.json"
    monkeypatch.setenv(locations.DATA_ENV, str(tmp_path / "d"))
    assert locations.data_cache_dir() == tmp_path / "d"


@needs_root
def test_a_workspace_planted_by_another_user_is_passed_by_and_the_learner_is_told(
    tmp_path: Path, course: Path
) -> None:
    """The class of git's CVE-2022-24765: another user's ``.dl7`` above the working folder
    names a course of theirs; dl7 must neither use it nor run its code, and must say why."""
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "curriculum.yaml").write_text((course / "curriculum.yaml").read_text().replace("Fixture", "Evil"))
    shared = tmp_path / "shared"
    (shared / "project").mkdir(parents=True)
    planted = shared / ".dl7"
    planted.mkdir()
    (planted / "workspace.json").write_text(json.dumps({"course": "fixture", "curriculum": str(evil)}))
    for path in (planted, planted / "workspace.json"):
        os.chown(path, _nobody(), -1)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != locations.HOME_ENV}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), COLUMNS="120")
    done = subprocess.run(
        [sys.executable, "-m", "dl7", "--curriculum", str(course), "next"],
        cwd=shared / "project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"passed by {planted}: it belongs to user 'nobody', not to you" in done.stderr
    assert not (planted / "progress.sqlite").exists(), "the planted workspace was not used"
    assert (home / ".local" / "share" / "dl7" / "workspace" / ".dl7").is_dir()


def test_the_walk_stops_before_a_folder_everyone_may_write_to(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "mine" / "deep").mkdir(parents=True)
    (tmp_path / ".dl7").mkdir()  # above the shared folder: never reached
    shared.chmod(0o777)
    assert list(locations.walk_up(shared / "mine" / "deep")) == [shared / "mine" / "deep", shared / "mine"]
    assert locations.enclosing_workspace(shared / "mine" / "deep") is None
