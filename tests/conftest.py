"""Shared fixtures: every test gets its own workspace and never touches real user data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DL7_HOME (and the data cache) at a temporary folder; forget any chosen course."""
    home = tmp_path / "home"
    monkeypatch.setenv("DL7_HOME", str(home))
    monkeypatch.setenv("DL7_DATA", str(tmp_path / "data-cache"))
    # the per-user cache (validate's run cache lives there): platformdirs follows XDG_CACHE_HOME
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv("DL7_VALIDATE_CACHE", raising=False)
    monkeypatch.delenv("DL7_CURRICULUM", raising=False)
    monkeypatch.delenv("DL7_CHECKERS", raising=False)
    monkeypatch.delenv("DL7_DATASETS", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    # The course a command line named lives on in the process (cli_common.state): a test that
    # invokes a sub-app directly must not inherit the course of the test before it.
    from dl7 import cli_common

    monkeypatch.setattr(cli_common.state, "curriculum_path", None)
    monkeypatch.setattr(cli_common.state, "curriculum_named", False)
    return home


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A private copy of the fixture course, safe to modify."""
    target = tmp_path / "course"
    # Never a cache left in the fixture by a manual run: a test must see its own runs.
    shutil.copytree(FIXTURE_COURSE, target, ignore=shutil.ignore_patterns(".dl7-cache"))
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
