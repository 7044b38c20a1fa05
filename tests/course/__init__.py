"""Tests of the seven-step course's checkers (``checks/`` at the repository root).

The course's checkers are course code, not part of the ``dl7`` package: they are loaded here
exactly as a kernel loads them, through the runner's loader and the paths the manifest names.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from dl7.checks import load_module

COURSE_ROOT = Path(__file__).resolve().parents[2]
CHECKS = COURSE_ROOT / "checks"


def course(name: str) -> ModuleType:
    """A module of the course's checkers: ``course("step3")``, ``course("step3.network")``.

    Loading a step's package registers its checkers, as the first check of one of its
    exercises does in a notebook.
    """
    step, _, rest = name.partition(".")
    if (CHECKS / f"{step}.py").is_file():
        # A module shared by the steps (checks/ngrams.py): import it beside a step's package,
        # as that step's relative import does.
        top = load_module(str(CHECKS / "step1")).__name__.rpartition(".")[0]
        return importlib.import_module(f"{top}.{step}")
    package: ModuleType = load_module(str(CHECKS / step))
    return importlib.import_module(f"{package.__name__}.{rest}") if rest else package
