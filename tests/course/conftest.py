"""Every step's checkers are registered before a course test runs, as the manifest names them."""

from __future__ import annotations

import pytest

from dl7.curriculum import load

from . import COURSE_ROOT
from . import course as load_step


@pytest.fixture(autouse=True, scope="session")
def _course_checkers() -> None:
    for spec in load(COURSE_ROOT / "curriculum.yaml").checkers:
        load_step(spec.rsplit("/", 1)[-1])
