"""dl7: an interactive runner for the "7 Steps to Understanding Deep Learning" curriculum.

Importing ``dl7`` is cheap: the kernel-side API (``from dl7 import check``) lives in
``dl7.checks`` and the runner's heavy pieces are imported only by the commands that use them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["__version__", "check", "main"]


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
