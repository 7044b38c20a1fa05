"""Every step's checkers are registered before a course test runs, as the manifest names them."""

from __future__ import annotations

import numpy as np
import pytest

from dl7.curriculum import load

from . import COURSE_ROOT
from . import course as load_step


@pytest.fixture(autouse=True, scope="session")
def _course_checkers() -> None:
    for spec in load(COURSE_ROOT / "curriculum.yaml").checkers:
        load_step(spec.rsplit("/", 1)[-1])


@pytest.fixture(scope="session")
def text_ids() -> tuple[list[str], np.ndarray]:
    """6.2's text as character ids (vocabulary sorted(set(text)), id = position), for the
    language-model checkers of step 6 and the epilogue."""
    from dl7 import datasets

    text = datasets.text("movie-reviews")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    return vocab, np.array([index[c] for c in text], dtype=np.int32)
