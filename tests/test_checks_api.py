"""The in-notebook check API: outcomes, messages, the MIME bundle, and finding checkers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dl7.checks
from dl7.checks import MIME_TYPE, CheckFailed, checker, evaluate
from dl7.checks.helpers import expect_close, numerical_gradient


@checker("test.square")
def _check_square(square: object) -> str:
    got = square(3)  # type: ignore[operator]
    if got != 9:
        raise CheckFailed(f"square(3) returned {got!r}; expected 9")
    return "squares"


def test_outcomes() -> None:
    assert evaluate("test.square", lambda x: x * x).status == "passed"
    assert evaluate("test.square", lambda x: x * x).message == "squares"
    wrong = evaluate("test.square", lambda x: x + x)
    assert (wrong.status, wrong.message) == ("failed", "square(3) returned 6; expected 9")

    def stub(x: int) -> int:
        raise NotImplementedError

    assert evaluate("test.square", stub).status == "not_attempted"

    # Learner code lives in a notebook cell, never in the checker's file: simulate one.
    cell: dict[str, object] = {}
    exec(compile("def broken(x):\n    y = x\n    return y / 0\n", "<ipython-cell-7>", "exec"), cell)
    result = evaluate("test.square", cell["broken"])
    assert result.status == "error"
    assert "ZeroDivisionError: division by zero" in result.message
    assert "(in broken, line 3)" in result.message


def test_unknown_id_is_an_error_result_not_an_exception() -> None:
    result = evaluate("nowhere.nothing", 1)
    assert result.status == "error" and "no checker is registered for 'nowhere.nothing'" in result.message


def test_bundle_carries_the_result() -> None:
    bundle = evaluate("test.square", lambda x: x * x)._repr_mimebundle_()
    data = bundle[MIME_TYPE]
    assert data["id"] == "test.square" and data["passed"] is True and data["status"] == "passed"
    assert "✔ test.square: passed" in bundle["text/plain"]
    assert "<div" in bundle["text/html"]


def test_checker_module_named_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "course_checks.py"
    module.write_text(
        "from dl7.checks import checker, CheckFailed\n"
        "@checker('env.answer')\n"
        "def check(value):\n"
        "    if value != 42:\n"
        "        raise CheckFailed('not the answer')\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    assert evaluate("env.answer", 42).status == "passed"
    assert evaluate("env.answer", 41).message == "not the answer"


def test_checker_module_found_through_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "ws_checks.py"
    module.write_text("from dl7.checks import checker\n@checker('ws.ok')\ndef check(value):\n    pass\n")
    (tmp_path / "ws" / ".dl7").mkdir(parents=True)
    (tmp_path / "ws" / ".dl7" / "workspace.json").write_text(f'{{"checkers": ["{module}"]}}')
    (tmp_path / "ws" / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "ws" / "notebooks")
    assert evaluate("ws.ok", 1).status == "passed"


def test_a_package_folder_loads_with_its_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = tmp_path / "course" / "checks"
    (top / "shared").mkdir(parents=True)
    (top / "unit1").mkdir()
    (top / "__init__.py").write_text("")
    (top / "shared" / "__init__.py").write_text("ANSWER = 42\n")
    (top / "unit1" / "__init__.py").write_text("from . import answers  # noqa: F401\n")
    (top / "unit1" / "answers.py").write_text(
        "from dl7.checks import checker, CheckFailed\n"
        "from ..shared import ANSWER\n"
        "@checker('unit1.answer')\n"
        "def check(value):\n"
        "    if value != ANSWER:\n"
        "        raise CheckFailed(f'{value} is not {ANSWER}')\n"
    )
    monkeypatch.setattr(dl7.checks, "_REGISTRY", {})
    monkeypatch.setenv("DL7_CHECKERS", str(top / "unit1"))
    assert evaluate("unit1.answer", 42).status == "passed"
    assert evaluate("unit1.answer", 41).message == "41 is not 42"
    loaded = dl7.checks.load_module(str(top / "unit1"))
    assert loaded.__name__.endswith("_checks.unit1") and loaded.__name__.startswith("dl7_course_")


def test_a_teachers_broken_checker_is_never_replaced_by_the_seven_steps_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A teacher's ``step2.sigmoid`` whose module cannot load is the course's fault: the runner
    knows no other course to fall back on (it once took dl7's own step-2 checker silently)."""
    module = tmp_path / "teacher_checks.py"
    module.write_text("from dl7.checks import checker\nimport not_a_module_anywhere\n")
    monkeypatch.setattr(dl7.checks, "_REGISTRY", {})
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    result = evaluate("step2.sigmoid", lambda x: 1 / (1 + np.exp(-np.asarray(x, float))))
    assert result.status == "course_error", result
    assert "not_a_module_anywhere" in result.message and str(module) in result.message


def test_a_crashing_checker_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "crashing_checks.py"
    module.write_text(
        "from dl7.checks import checker\n@checker('crash.it')\ndef check(value):\n    return {}['missing']\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    result = evaluate("crash.it", 1)
    assert result.status == "course_error" and "the checker crashed" in result.message


def test_expect_close_messages() -> None:
    with pytest.raises(CheckFailed, match=r"f\(x\) returned 0.3; expected 0.5"):
        expect_close(0.3, 0.5, "f(x)")
    with pytest.raises(CheckFailed, match=r"has shape \(2,\); expected \(3,\)"):
        expect_close([1, 2], [1, 2, 3], "v")
    with pytest.raises(CheckFailed, match="contains nan"):
        expect_close([np.nan], [0.0], "sigmoid(-1000)")
    with pytest.raises(CheckFailed, match="returned None"):
        expect_close(None, 1.0, "f(x)")
    with pytest.raises(CheckFailed, match=r"off at index \(1,\): got 5, expected 2"):
        expect_close([1, 5], [1, 2], "v")


def test_numerical_gradient_matches_calculus() -> None:
    x = np.array([0.5, -1.0, 2.0])
    grad = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert np.allclose(grad, 3 * x**2, atol=1e-6)
    assert np.array_equal(x, [0.5, -1.0, 2.0]), "the input is not modified"


def test_a_checker_module_that_cannot_load_is_the_courses_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "broken_checks.py"
    module.write_text(
        "from dl7.checks import checker\n"
        "@checker('broken.one')\n"
        "def check_one(value)\n"  # the colon is missing
        "    pass\n"
        "@checker('broken.two')\n"
        "def check_two(value):\n"
        "    pass\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    for exercise in ("broken.one", "broken.two"):
        result = evaluate(exercise, 1)  # never raises into the learner's cell
        assert result.status == "course_error", result
        assert f"{module}:3" in result.message and "SyntaxError" in result.message
        assert "not your code" in result.message and "no checker is registered" not in result.message


def test_a_crashing_checker_names_its_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "crashing_line_checks.py"
    module.write_text(
        "from dl7.checks import checker\n"
        "@checker('crash.line')\n"
        "def check(value):\n"
        "    table = {}\n"
        "    return table['missing']\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    result = evaluate("crash.line", 1)
    assert result.status == "course_error"
    assert "the checker crashed (KeyError: 'missing')" in result.message
    assert f"{module}:5" in result.message and "not your code" in result.message


def test_a_plain_assert_in_a_checker_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "assert_checks.py"
    module.write_text(
        "from dl7.checks import checker\n"
        "@checker('asserts.message')\n"
        "def check_message(f):\n"
        "    assert f(2) == 4, f'f(2) returned {f(2)}; expected 4'\n"
        "@checker('asserts.bare')\n"
        "def check_bare(f):\n"
        "    got = f(2)\n"
        "    assert got == 4\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    wrong = evaluate("asserts.message", lambda x: x + 1)
    assert (wrong.status, wrong.message) == ("failed", "f(2) returned 3; expected 4")
    bare = evaluate("asserts.bare", lambda x: x + 1)
    assert bare.status == "failed" and "assert got == 4" in bare.message
    assert evaluate("asserts.bare", lambda x: 2 * x).status == "passed"

    # An assert in the learner's own code is the learner's error, not a failed check.
    cell: dict[str, object] = {}
    exec(compile("def f(x):\n    assert x < 0, 'x must be negative'\n", "<ipython-cell-8>", "exec"), cell)
    mine = evaluate("asserts.message", cell["f"])
    assert mine.status == "error" and "AssertionError: x must be negative" in mine.message


def test_numpy_testing_asserts_in_a_checker_are_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "np_assert_checks.py"
    module.write_text(
        "import numpy as np\n"
        "from dl7.checks import checker\n"
        "@checker('asserts.numpy')\n"
        "def check(f):\n"
        "    np.testing.assert_allclose(f(np.ones(2)), np.full(2, 2.0), err_msg='f(x) should be 2 x')\n"
    )
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    result = evaluate("asserts.numpy", lambda x: x + 0.5)
    assert result.status == "failed" and "f(x) should be 2 x" in result.message


@pytest.mark.parametrize(
    ("declarations", "where"),
    [
        ("\nraise RuntimeError('oops at import')\n", "oops at import"),  # the module cannot load
        (  # the module loads; its loader crashes when the checker asks for the set
            "from dl7.datasets import Source\n"
            "def _tiny(folder):\n"
            "    return [1, 2][7]\n"
            "SOURCES = [Source('tiny', 'a tiny set', _tiny)]\n",
            "IndexError",
        ),
    ],
)
def test_a_broken_data_set_declaration_is_the_courses_fault_not_the_learners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declarations: str, where: str
) -> None:
    """A checker that loads the course's own data set and meets a fault in the course's
    declarations reports a course error, never "your code raised" (found by a teacher)."""
    sets = tmp_path / "datasets.py"
    sets.write_text(declarations)
    module = tmp_path / "uses_data_checks.py"
    module.write_text(
        "from dl7 import datasets\n"
        "from dl7.checks import checker\n"
        "@checker('data.count')\n"
        "def check(count):\n"
        "    points = datasets.load('tiny')\n"
        "    assert count(points) == len(points)\n"
    )
    monkeypatch.setattr(dl7.checks, "_REGISTRY", {})
    monkeypatch.setenv("DL7_CHECKERS", str(module))
    monkeypatch.setenv("DL7_DATASETS", str(sets))
    result = evaluate("data.count", len)
    assert result.status == "course_error", result
    assert where in result.message and "your code raised" not in result.message
