"""``with demo():``: a stub does not stop Run All; a learner's real bug still does."""

from __future__ import annotations

import pytest

import dl7.notebook_demo
from dl7 import demo


@pytest.fixture(autouse=True)
def _fresh() -> None:
    dl7.notebook_demo._passed_over.clear()


def _stub(x: int) -> int:
    raise NotImplementedError


def test_a_stub_is_named_and_passed_over(capsys: pytest.CaptureFixture[str]) -> None:
    with demo():
        _stub(1)
        raise AssertionError("not reached")
    out = capsys.readouterr().out
    assert out == "(skipped: `_stub` is not written yet)\n"


def test_a_name_an_earlier_skipped_demo_did_not_make(capsys: pytest.CaptureFixture[str]) -> None:
    with demo():
        made = _stub(1)
    with demo():
        print(made + 1)
    assert "(skipped: needs `made`, which a skipped cell above did not make)" in capsys.readouterr().out


def test_a_name_error_without_a_skipped_demo_is_the_learners_bug() -> None:
    with pytest.raises(NameError), demo():
        print(undefined_name)  # type: ignore[name-defined]  # noqa: F821


def test_other_errors_are_never_hidden() -> None:
    with pytest.raises(ZeroDivisionError), demo():
        print(1 / 0)


def test_no_error_no_message(capsys: pytest.CaptureFixture[str]) -> None:
    with demo():
        print("plotted")
    assert capsys.readouterr().out == "plotted\n"


def test_a_skipped_demo_leaves_no_empty_figure(capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())  # figures other tests of this process left open stay
    kept = plt.figure()
    with demo():
        plt.subplots()
        _stub(1)
    assert set(plt.get_fignums()) == before | {kept.number}
    plt.close(kept)


def test_none_left_by_a_skipped_demo_is_passed_over(capsys: pytest.CaptureFixture[str]) -> None:
    model = None
    with demo():
        model = _stub(1)
    with demo():
        model.predict()  # type: ignore[attr-defined]
    assert "left as None" in capsys.readouterr().out


def test_none_without_a_skipped_demo_is_the_learners_bug() -> None:
    model = None
    with pytest.raises(AttributeError), demo():
        model.predict()  # type: ignore[attr-defined]
