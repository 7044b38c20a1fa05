"""``dl7 new COURSE``: a small course that works as written, for a teacher to edit.

What it writes is the smallest course that shows every part a real one has: a manifest, one
step with a reading, one notebook with one exercise (a hint, a solution, a known mistake), a
checker *package* whose module imports a shared helper relatively, a data file copied beside
the learner's notebook, a ``requirements.txt`` for what the notebooks import, and a GitHub
Actions workflow that validates the course. ``dl7 validate`` passes on it as written (the
test suite proves it), so a teacher starts from green and changes one thing at a time.

Nothing is ever written over: a COURSE folder that exists and is not empty is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from dl7 import __version__
from dl7.errors import Dl7Error, os_error


@dataclass(frozen=True)
class Made:
    root: Path
    course_id: str
    files: tuple[str, ...]  # relative paths, in the order written


def course_id_from(name: str) -> str:
    """A manifest id from a folder name: ``My Course!`` is ``my-course``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "my-course"


def new_course(root: Path, title: str | None = None, course_id: str | None = None) -> Made:
    """Write the starter course into ``root`` (which must not exist, or be empty)."""
    root = root.expanduser()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise Dl7Error(
            f"{root} already exists and is not an empty folder: dl7 new writes only into a new one",
            hint="name a new folder, e.g. `dl7 new my-course`",
        )
    cid = course_id or course_id_from(root.resolve().name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", cid):
        raise Dl7Error(f"{cid!r} is not a course id: use letters, digits, '-', '_' and '.'")
    files = _files(cid, title or root.resolve().name.replace("-", " ").replace("_", " ").capitalize())
    written: list[str] = []
    try:
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "x", encoding="utf-8") as fh:  # "x": never over a file
                fh.write(text)
            written.append(rel)
    except OSError as exc:
        raise os_error(exc, "cannot write the new course", root) from None
    return Made(root, cid, tuple(written))


def _ci_install() -> str:
    """How the workflow installs dl7: the way this dl7 was installed when that is reachable
    from CI (a git URL), else this version from the package index."""
    try:
        from importlib.metadata import distribution

        direct = distribution("dl7").read_text("direct_url.json")
        info = json.loads(direct) if direct else {}
    except Exception:  # not installed as a distribution (a source tree on sys.path)
        info = {}
    vcs = info.get("vcs_info") if isinstance(info, dict) else None
    url = info.get("url", "") if isinstance(info, dict) else ""
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and str(url).startswith("https://"):
        rev = vcs.get("requested_revision") or vcs.get("commit_id")
        return f"dl7 @ git+{url}" + (f"@{rev}" if rev else "")
    return f"dl7=={__version__}"


def _notebook(cells: list[tuple[str, str]]) -> str:
    nb = {
        "cells": [
            {
                "cell_type": kind,
                "id": f"cell-{i}",
                "metadata": {},
                "source": text.strip("\n").splitlines(keepends=True),
                **({"execution_count": None, "outputs": []} if kind == "code" else {}),
            }
            for i, (kind, text) in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _files(cid: str, title: str) -> dict[str, str]:
    install = _ci_install()
    return {
        "curriculum.yaml": f"""\
# {title}: a dl7 course. Check it with `dl7 validate` in this folder; try it as a learner with
# `dl7 next` and `dl7 run step1`. The format: dl7's README, "Writing your own course".
format: 2
id: {cid}
title: {json.dumps(title)}
description: A course made with `dl7 new`; edit this line.
checkers:
- checks                   # the package beside this file: checks/__init__.py imports its modules
kernel:
  libraries: [numpy]       # what the notebooks import: `dl7 doctor` checks each one
  install: pip install -r requirements.txt
steps:
- id: step1
  title: Measuring error
  summary: |-
    How far a model's predictions are from the truth: the mean squared error.
  readings:
  - id: r-mse
    title: Mean squared error
    author: Wikipedia contributors
    kind: article
    url: https://en.wikipedia.org/wiki/Mean_squared_error
    minutes: 10
  notebooks:
  - path: notebooks/step1/01_mean_squared_error.ipynb
    title: The mean squared error of a line through points
    cell_timeout: 30       # seconds a cell may run
    budget: 60             # seconds the whole notebook may run
    files: [points.csv]    # copied beside the learner's notebook
    exercises:
    - id: step1.mse
      title: 'The mean squared error of predictions y against targets t'
      reading: r-mse
      hints:
      - 'Subtract element by element: `y - t` is an array of the errors.'
      - Square the errors, then take their mean (`np.mean`), not their sum.
""",
        "checks/__init__.py": '''\
"""The checkers of this course: one module per step. Importing the package registers them."""

from . import step1  # noqa: F401  (importing registers step 1's checkers)
''',
        "checks/_common.py": '''\
"""What the checkers of every step share."""

import numpy as np

from dl7.checks import CheckFailed


def as_number(value, what):
    """A learner's result as one float, or a failure that says what came back instead."""
    if value is None:
        raise CheckFailed(f"{what} returned None: did you forget `return`?")
    try:
        return float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should return one number, not {type(value).__name__}") from None
''',
        "checks/step1.py": '''\
"""Checkers for step 1. Each compares the learner's function with facts worked out by hand."""

import numpy as np

from dl7.checks import CheckFailed, checker

from ._common import as_number


@checker("step1.mse")
def check_mse(mse):
    y, t = np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0, 0.0])  # errors 0, -2, 3
    got = as_number(mse(y, t), "mse(y, t)")
    if np.isclose(got, 13.0):
        raise CheckFailed("got 13, the SUM of the squared errors (0 + 4 + 9): divide by their number")
    if np.isclose(got, 1.0 / 9.0):
        raise CheckFailed("got 1/9, the mean error squared: square each error first, then average")
    if not np.isclose(got, 13.0 / 3.0):
        raise CheckFailed(f"mse([1, 2, 3], [1, 4, 0]) should be 13/3 = 4.333, got {got:.4g}")
    return "the mean of the squared errors"
''',
        "notebooks/step1/points.csv": "x,t\n0,1.1\n1,2.9\n2,5.2\n3,6.8\n4,9.1\n",
        "notebooks/step1/01_mean_squared_error.ipynb": _notebook(
            [
                (
                    "markdown",
                    "# The mean squared error\n\nA line `y = a x + b` predicts a value for each point; "
                    "the mean squared error says how far those predictions are from the targets, "
                    "on average. Read the reading of this step first.",
                ),
                (
                    "code",
                    "import numpy as np\n\nfrom dl7 import check, demo\n\n"
                    'data = np.loadtxt("points.csv", delimiter=",", skiprows=1)  # beside this notebook\n'
                    'x, t = data[:, 0], data[:, 1]\nprint(len(x), "points")',
                ),
                (
                    "code",
                    "def mse(y, t):\n"
                    "    # Return the mean of the squared differences between predictions y and targets t.\n"
                    "    ### BEGIN SOLUTION\n"
                    "    return np.mean((y - t) ** 2)\n"
                    "    ### END SOLUTION\n"
                    "    ### BEGIN MISTAKE sums instead of averaging\n"
                    "    return np.sum((y - t) ** 2)\n"
                    "    ### END MISTAKE\n"
                    "    ### BEGIN MISTAKE squares the mean error\n"
                    "    return np.mean(y - t) ** 2\n"
                    "    ### END MISTAKE",
                ),
                ("code", 'check("step1.mse", mse)'),
                (
                    "code",
                    "# The line y = 2x + 1 against the points: shown once mse is written.\n"
                    "with demo():\n"
                    '    print(f"mse of y = 2x + 1: {mse(2 * x + 1, t):.3f}")',
                ),
            ]
        ),
        "requirements.txt": (
            "# What this course's notebooks import (dl7 itself is installed apart).\nnumpy>=1.26\n"
        ),
        ".gitignore": ".venv/\n__pycache__/\nvalidate.xml\n",
        ".github/workflows/validate.yml": f"""\
# Validates the course on every push: every solution passes, no check passes unsolved, and
# every known mistake fails its exercise. The same as `dl7 validate` on your machine.
name: validate
on: [push, pull_request]
jobs:
  validate:
    runs-on: ubuntu-latest
    env:
      # How CI gets dl7: this version from the package index, or a git URL
      # ("dl7 @ git+https://github.com/OWNER/dl7@TAG"), or a wheel committed to this repository.
      DL7: "{install}"
    steps:
    - uses: actions/checkout@v4
    - uses: actions/setup-python@v5
      with:
        python-version: "3.12"
    - name: Install dl7 and what the course needs
      run: pip install "$DL7" -r requirements.txt
    - name: Validate the course
      run: dl7 validate --junit validate.xml
    - name: Keep the report
      if: always()
      uses: actions/upload-artifact@v4
      with:
        name: validate-report
        path: validate.xml
""",
        "README.md": f"""\
# {title}

A [dl7](https://pypi.org/project/dl7/) course: notebooks whose exercises are checked as the
learner works.

- `dl7 validate` (in this folder) proves the course sound: the solutions pass, the learner's
  copies fail every check, every known mistake is rejected.
- `dl7 next`, then `dl7 run step1`: the course as a learner meets it.
- `dl7 preview notebooks/step1/01_mean_squared_error.ipynb`: the learner's copy of a notebook.

Layout: `curriculum.yaml` (steps, readings, notebooks, exercises, hints), `notebooks/` (the
source notebooks, with `### BEGIN SOLUTION` and `### BEGIN MISTAKE label` regions), `checks/`
(a package: one module per step, `@checker("step1.mse")`), `requirements.txt` (what the
notebooks import), `.github/workflows/validate.yml` (CI).
""",
    }
