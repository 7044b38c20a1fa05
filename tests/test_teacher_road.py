"""A teacher's road (issue 27): `dl7 new`, checker packages, the course where you stand,
commands that only read, one line per broken checker module, the learner's copy, and the CI
workflow `dl7 new` writes. Every command runs as a teacher types it: a real `dl7` process in
the course's folder, with no DL7_* variable set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DL7_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        COLUMNS="200",
    )
    return env


def dl7(tmp_path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dl7", *args],
        cwd=cwd,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def made(tmp_path: Path) -> Path:
    done = dl7(tmp_path, tmp_path, "new", "linear-models")
    assert done.returncode == 0, done.stderr
    return tmp_path / "linear-models"


@pytest.mark.kernel
def test_a_new_course_validates_as_written_where_it_stands(tmp_path: Path, made: Path) -> None:
    done = dl7(tmp_path, made, "validate", "--messages")
    assert done.returncode == 0, done.stdout + done.stderr
    # The course it works on is named: the one in this folder, not the seven steps.
    assert f"linear-models, {made / 'curriculum.yaml'}" in done.stderr
    assert "4 passed, 0 failed" in done.stdout
    # Each known mistake's message is on the console, not only in a JUnit file.
    assert "‹sums instead of averaging› failed: got 13, the SUM" in done.stdout
    assert "‹squares the mean error› failed: got 1/9" in done.stdout


def test_new_never_writes_into_a_folder_that_holds_something(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    done = dl7(tmp_path, tmp_path, "new", "mine")
    assert done.returncode == 2
    assert "already exists and is not an empty folder" in done.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


@pytest.mark.kernel
@pytest.mark.parametrize("spec", ["checks.step1", "checks/step1.py"])
def test_a_checker_package_named_by_dotted_name_or_file_loads_with_its_relative_imports(
    tmp_path: Path, made: Path, spec: str
) -> None:
    manifest = made / "curriculum.yaml"
    manifest.write_text(manifest.read_text().replace("- checks   ", f"- {spec}   "))
    (made / "checks" / "__init__.py").write_text('"""Nothing imported here: the manifest names step1."""\n')
    done = dl7(tmp_path, made, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    # And as a learner, in a kernel started for the workspace: no PYTHONPATH anywhere.
    run = dl7(tmp_path, made, "run", "step1")
    assert "attempted relative import" not in run.stdout + run.stderr
    assert "step1.mse" in run.stdout


@pytest.mark.kernel
def test_a_broken_checker_module_is_one_line_with_its_file_and_line(tmp_path: Path, made: Path) -> None:
    step1 = made / "checks" / "step1.py"
    step1.write_text(step1.read_text().replace("from ._common import as_number", "from ._common import gone"))
    done = dl7(tmp_path, made, "validate")
    assert done.returncode == 1
    faults = [line for line in done.stdout.splitlines() if line.startswith("course fault")]
    assert len(faults) == 1, done.stdout
    assert f"at {step1}:" in faults[0]
    assert "cannot import name 'gone' from 'checks._common'" in faults[0]  # not dl7's own name for it
    assert "report it to the course author" not in done.stdout
    assert "Validation failures" not in done.stdout  # no row per check


def test_commands_that_only_read_write_nothing(tmp_path: Path, made: Path) -> None:
    reads = (["list"], ["show", "step1"], ["status"], ["status", "--json"])
    reads += (["preview", "01_mean_squared_error"],)
    for args in reads:
        done = dl7(tmp_path, made, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "linear-models" in done.stdout or "Linear models" in done.stdout, args
    assert not (tmp_path / "home" / "data").exists(), "a read-only command made a workspace"


def test_a_course_where_you_stand_gets_its_own_workspace_when_the_default_is_taken(
    tmp_path: Path, made: Path
) -> None:
    fixture = ROOT / "tests" / "fixtures" / "course"
    first = dl7(tmp_path, tmp_path, "--curriculum", str(fixture), "next")
    assert first.returncode == 0, first.stderr
    default = tmp_path / "home" / "data" / "dl7" / "workspace"
    assert json.loads((default / ".dl7" / "workspace.json").read_text())["course"] == "fixture"
    done = dl7(tmp_path, made, "next")
    assert done.returncode == 0, done.stderr
    own = tmp_path / "home" / "data" / "dl7" / "courses" / "linear-models"
    assert (own / "notebooks" / "step1" / "01_mean_squared_error.ipynb").is_file()
    assert (own / "notebooks" / "step1" / "points.csv").is_file()  # the data file came along
    # The fixture's learner keeps their workspace, and gets it back where they stand.
    again = dl7(tmp_path, tmp_path, "status", "--json")
    assert json.loads(again.stdout)["workspace"] == str(default)


def test_preview_shows_the_learners_copy_and_writes_only_a_new_file(tmp_path: Path, made: Path) -> None:
    done = dl7(tmp_path, made, "preview", "notebooks/step1/01_mean_squared_error.ipynb")
    assert done.returncode == 0, done.stderr
    assert "raise NotImplementedError" in done.stdout
    assert "np.mean((y - t) ** 2)" not in done.stdout and "MISTAKE" not in done.stdout
    target = tmp_path / "copy.ipynb"
    assert dl7(tmp_path, made, "preview", "01_mean_squared_error", "-o", str(target)).returncode == 0
    assert "NotImplementedError" in target.read_text()
    again = dl7(tmp_path, made, "preview", "01_mean_squared_error", "-o", str(target))
    assert again.returncode == 2 and "exists" in again.stderr
    missing = dl7(tmp_path, made, "preview", "nope")
    assert missing.returncode == 2 and "01_mean_squared_error" in missing.stderr


@pytest.mark.kernel
def test_the_ci_workflow_passes_on_a_fresh_clone(tmp_path: Path, made: Path) -> None:
    """Every `run:` step of the workflow, in a fresh clone of the course's repository; the
    install step's line is checked, and dl7 and numpy come from this environment instead."""
    git = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    git |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    genv = {**os.environ, **git}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "course"]):
        subprocess.run(cmd, cwd=made, check=True, env=genv)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(made), str(clone)], check=True)
    workflow = yaml.safe_load((clone / ".github" / "workflows" / "validate.yml").read_text())
    job = workflow["jobs"]["validate"]
    install = job["env"]["DL7"]
    assert install.startswith("dl7") and ("==" in install or "git+" in install)
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[0] == 'pip install "$DL7" -r requirements.txt'
    env = _env(tmp_path) | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in runs[1:]:
        done = subprocess.run(["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    assert 'failures="0"' in (clone / "validate.xml").read_text()


def test_a_data_file_the_course_changes_reaches_learners_but_never_over_their_own(
    tmp_path: Path, made: Path
) -> None:
    course_file = made / "notebooks" / "step1" / "points.csv"
    assert dl7(tmp_path, made, "next").returncode == 0
    mine = tmp_path / "home" / "data" / "dl7" / "workspace" / "notebooks" / "step1" / "points.csv"
    assert mine.read_text() == course_file.read_text()
    # The teacher fixes the data; the learner never touched theirs: it is brought up to date.
    course_file.write_text("x,t\n0,1.0\n1,3.0\n")
    done = dl7(tmp_path, made, "next")
    assert "Updated notebooks/step1/points.csv: the course changed it" in done.stderr + done.stdout
    assert mine.read_text() == "x,t\n0,1.0\n1,3.0\n"
    # The learner edits theirs, then the course changes again: theirs stays, and they are told once.
    mine.write_text("x,t\n0,9\n")
    course_file.write_text("x,t\n0,1.0\n1,3.0\n2,5.0\n")
    told = dl7(tmp_path, made, "next")
    assert "The course changed notebooks/step1/points.csv, and so did you" in told.stderr + told.stdout
    assert mine.read_text() == "x,t\n0,9\n"
    again = dl7(tmp_path, made, "next")
    assert "so did you" not in again.stderr + again.stdout
    # reset gives the course's file back, the learner's kept as a backup.
    reset = dl7(tmp_path, made, "reset", "step1")
    assert reset.returncode == 0, reset.stderr
    assert mine.read_text() == course_file.read_text()
    backups = list((mine.parents[2] / "backups").rglob("points.*.csv"))
    assert len(backups) == 1 and backups[0].read_text() == "x,t\n0,9\n"


def test_a_course_folder_another_user_planted_is_not_the_course_where_you_stand(
    tmp_path: Path, made: Path
) -> None:
    """A `curriculum.yaml` that user `nobody` owns (a shared folder, a hostile course) is passed
    by: standing in it does not choose it, and no command runs its checkers."""
    import pwd

    nobody = pwd.getpwnam("nobody").pw_uid
    for path in (made / "curriculum.yaml", made):
        os.chown(path, nobody, -1)
    done = dl7(tmp_path, made / "notebooks", "list")
    assert done.returncode == 0, done.stderr
    assert "Linear models" not in done.stdout and "7 Steps to Understanding Deep Learning" in done.stdout
    validate = dl7(tmp_path, made, "validate", "--json", "nope.ipynb")
    assert "linear-models" not in validate.stdout + validate.stderr
