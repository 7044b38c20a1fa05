"""``with demo():`` — a notebook's demonstration cell that waits, quietly, for its exercise.

A learner's copy of a notebook holds stubs that raise ``NotImplementedError``. A cell that only
shows an exercise at work (a plot, a printed table, a model trained with the learner's function)
would stop JupyterLab's Run All at the first stub, and the learner would never see the verdicts
below it. Wrapped in ``with demo():``, such a cell prints one line naming the function still to
write and lets Run All go on; every ``check(...)`` still runs and says what is wrong.

Passed over, and nothing else: ``NotImplementedError`` (a stub); and, once an earlier demo in
this kernel was passed over, a ``NameError`` (the name it would have made is missing) or an
error about ``None`` (``model.predict`` on the ``model = None`` it left). Any other exception, a
learner's bug included, is raised as usual: a demo must not hide one.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

# Demos passed over in this kernel: a later NameError is theirs only when one was.
_passed_over: list[str] = []


def _stub_name(exc: BaseException) -> str | None:
    """The function whose body raised: the last frame of the traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if len(frames) < 2:  # raised in the cell itself (`raise NotImplementedError`)
        return None
    name = frames[-1].name
    return None if name.startswith("<") else name


@contextmanager
def demo() -> Iterator[None]:
    """Run the block; if an exercise it uses is not written yet, say so in one line instead of
    stopping the notebook."""
    figures = _open_figures()
    try:
        yield
    except NotImplementedError as exc:
        name = _stub_name(exc)
        what = f"`{name}` is" if name else "an exercise above is"
        _passed_over.append(name or "?")
        _close_new_figures(figures)
        print(f"(skipped: {what} not written yet)")
    except NameError as exc:
        if not _passed_over:
            raise
        # A notebook's global has .name; a function's unassigned local (UnboundLocalError) only
        # names it in the message.
        quoted = re.search(r"'(\w+)'", str(exc))
        missing = getattr(exc, "name", None) or (quoted.group(1) if quoted else "a name")
        _close_new_figures(figures)
        print(f"(skipped: needs `{missing}`, which a skipped cell above did not make)")
    except (AttributeError, TypeError) as exc:
        # `model = None` before a skipped training demo, then `model.predict(...)` here: the same
        # consequence of a skipped demo as a missing name, and only then.
        if not _passed_over or "'NoneType'" not in str(exc):
            raise
        _close_new_figures(figures)
        print("(skipped: it uses a value that a skipped cell above left as None)")
    finally:
        sys.stdout.flush()


def _open_figures() -> set[int]:
    """Figure numbers open before the block, when the notebook uses pyplot at all."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def _close_new_figures(before: set[int]) -> None:
    """A skipped demo leaves no empty axes behind: the figures it opened are closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        for number in set(pyplot.get_fignums()) - before:
            pyplot.close(number)
