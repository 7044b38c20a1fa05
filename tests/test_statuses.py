"""One vocabulary of statuses, read alike by the kernel (a check's result) and the terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dl7 import checks, results, statuses
from dl7.checks import CheckResult
from dl7.views import badge


@pytest.mark.parametrize("name", statuses.CHECK_STATUSES)
def test_jupyter_and_the_terminal_show_a_check_status_alike(name: str) -> None:
    shown = CheckResult("s.a", name, "why", 0.0)
    style = statuses.describe(name)
    assert str(shown) == f"{style.symbol} s.a: {style.label} — why"
    assert badge(name).plain == f"{style.symbol} {style.label}"
    assert f"color:{style.html}" in shown._repr_mimebundle_()["text/html"]


def test_a_check_ends_only_in_statuses_the_runner_knows() -> None:
    assert set(checks.STATUSES) <= set(statuses.STATUSES)
    assert not hasattr(results, "STATUSES")  # the runner derives, never repeats, the list


def test_only_a_pass_counts_as_passing() -> None:
    assert [name for name in statuses.STATUSES if statuses.passing(name)] == [statuses.PASSED]
    assert CheckResult("s.a", "passed", "", 0.0).passed
    assert not CheckResult("s.a", "not_attempted", "", 0.0).passed


def test_an_unknown_status_is_shown_as_it_is() -> None:
    # A progress store written by a newer dl7 may hold a status this one does not know.
    assert badge("held_back").plain == "? held back"


def test_the_kernel_side_reads_it_without_the_runner() -> None:
    code = (
        "import sys, dl7.checks, dl7.checks.testcell\n"
        "heavy = ('rich', 'typer', 'yaml', 'nbclient', 'dl7.curriculum')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
