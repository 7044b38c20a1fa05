"""dl7: an interactive runner for the "7 Steps to Understanding Deep Learning" curriculum.

Importing ``dl7`` is cheap: the kernel-side API (``from dl7 import check, hint, solution``)
lives in ``dl7.checks`` and ``dl7.notebook_loop``, and the runner's heavy pieces are imported
only by the commands that use them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.3.0"
__all__ = ["__version__", "check", "demo", "hint", "main", "solution"]


def main() -> None:
    """The ``dl7`` command. Ctrl-C while it is still importing ends it with one line too."""
    import sys

    try:
        from dl7 import fastpath

        if fastpath.run(sys.argv[1:]):  # `next` and `status` without building the Typer app
            return
        from dl7.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


def check(exercise_id: str, *args: Any, **kwargs: Any) -> None:
    """Check one exercise inside a notebook: ``check("step2.sigmoid", sigmoid)``."""
    from dl7.checks import check as _check

    _check(exercise_id, *args, **kwargs)


def demo() -> Any:
    """``with demo():`` around a cell that shows an exercise at work: until the exercise is
    written, the cell prints one line instead of stopping Run All (:mod:`dl7.notebook_demo`)."""
    from dl7.notebook_demo import demo as _demo

    return _demo()


def hint(exercise: str) -> None:
    """The next hint for an exercise, in a notebook: ``hint("perceptron_predict")``; the same
    ladder as ``dl7 hint``."""
    from dl7.notebook_loop import hint as _hint

    _hint(exercise)


def solution(exercise: str) -> None:
    """The course's solution for an exercise, in a notebook, once it has passed (as ``dl7
    solution``)."""
    from dl7.notebook_loop import solution as _solution

    _solution(exercise)
