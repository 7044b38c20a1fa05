"""The manifest: the real course loads; every kind of mistake is located by file, line and field."""

from __future__ import annotations

import dataclasses
import sys
import tracemalloc
from pathlib import Path

import pytest

from dl7.curriculum import checker_source, load, registered_in
from dl7.errors import Dl7Error, ManifestError


def test_the_seven_step_course_loads() -> None:
    c = load()
    assert [s.id for s in c.steps] == [f"step{n}" for n in range(1, 9)]
    assert all(s.readings for s in c.steps)
    for step in c.steps:
        for r in step.readings:
            assert r.url.startswith("http") and r.minutes > 0 and r.author
    assert c.steps[0].notebooks, "step 1 has a notebook"
    assert len(c.steps[0].exercises) >= 4 and len(c.steps[1].exercises) >= 4


def test_fixture_course_loads(course: Path) -> None:
    c = load(course)
    assert c.id == "fixture"
    assert c.step("1").id == "step1"
    assert [e.id for e in c.step("step1").exercises] == ["step1.double", "step1.greet"]
    assert c.step("step1").notebooks[0].cell_timeout == 30
    assert c.exercise("step1.double").hints == ("Multiply by two.", "`return 2 * x`")


def test_unknown_step_lists_known_ones(course: Path) -> None:
    with pytest.raises(Dl7Error) as info:
        load(course).step("9")
    assert "unknown step '9'" in info.value.message
    assert "step1, step2" in info.value.hint


def _broken(course: Path, old: str, new: str) -> ManifestError:
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))
    with pytest.raises(ManifestError) as info:
        load(course)
    return info.value


def test_unknown_key_names_line_and_field(course: Path) -> None:
    e = _broken(course, "    title: Basics\n", "    title: Basics\n    colour: blue\n")
    assert e.line == 11
    assert e.field == "steps[0].colour"
    assert "unknown key" in str(e) and "curriculum.yaml:11" in str(e)


def test_duplicate_exercise_id(course: Path) -> None:
    e = _broken(course, "- id: step1.greet", "- id: step1.double")
    assert "duplicate exercise id 'step1.double'" in e.problem
    assert e.field == "steps[0].notebooks[0].exercises[1].id"


def test_path_outside_the_course(course: Path) -> None:
    e = _broken(course, "path: notebooks/basics.ipynb", "path: ../elsewhere.ipynb")
    assert "outside the course folder" in e.problem
    assert e.field.endswith("notebooks[0].path")


def test_missing_notebook(course: Path) -> None:
    e = _broken(course, "path: notebooks/basics.ipynb", "path: notebooks/missing.ipynb")
    assert "notebook not found" in e.problem


def test_exercise_without_a_checker(course: Path) -> None:
    e = _broken(course, "- id: step1.greet", "- id: step1.wave")
    assert "no checker is registered for 'step1.wave'" in e.problem
    assert "@checker" in e.hint


def test_wrong_type(course: Path) -> None:
    e = _broken(course, "cell_timeout: 30", "cell_timeout: soon")
    assert "expected an int, got a string" in e.problem


def test_missing_key(course: Path) -> None:
    e = _broken(course, "title: Fixture course\n", "")
    assert "missing required key 'title'" in e.problem


def test_invalid_yaml_reports_line(course: Path) -> None:
    e = _broken(course, "id: fixture", "id: [fixture")
    assert "not valid YAML" in e.problem and e.line is not None


def test_duplicate_yaml_key(course: Path) -> None:
    e = _broken(course, "title: Fixture course\n", "title: Fixture course\ntitle: Again\n")
    assert "duplicate key" in e.problem and e.line == 5


def test_unknown_reading_reference(course: Path) -> None:
    e = _broken(course, "reading: r-one", "reading: r-nine")
    assert "unknown reading 'r-nine'" in e.problem


def test_exercise_id_must_belong_to_its_step(course: Path) -> None:
    e = _broken(course, "- id: step1.greet", "- id: step2.greet")
    assert "must look like step1.name" in e.problem


def test_unsupported_format(course: Path) -> None:
    e = _broken(course, "format: 1", "format: 3")  # 2 added test cells (nbgrader); 1 still reads
    assert "unsupported format 3" in e.problem and "reads formats 1, 2" in e.problem


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(Dl7Error, match="curriculum not found"):
        load(tmp_path / "nope.yaml")


def test_registered_ids_are_read_without_importing(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text(
        "import does_not_exist\n@checker('a.b')\ndef f(x): pass\n@other('a.c')\ndef g(x): pass\n"
    )
    assert registered_in(module) == {"a.b"}


def test_an_oversized_manifest_is_refused_without_reading_it(tmp_path: Path) -> None:
    manifest = tmp_path / "curriculum.yaml"
    with open(manifest, "wb") as fh:
        fh.truncate(256 << 20)  # sparse: costs no disk, but reading it would take 256 MiB and more
    tracemalloc.start()
    try:
        with pytest.raises(ManifestError, match="too large"):
            load(manifest)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB allocated"


@pytest.mark.parametrize(
    "path",
    [
        "notebooks/../notebooks/basics.ipynb",
        # resolves inside the course folder, but in the workspace it lands outside DL7_HOME
        "notebooks/../../course/notebooks/basics.ipynb",
    ],
)
def test_a_path_with_dot_dot_is_refused_even_if_it_resolves_inside(course: Path, path: str) -> None:
    e = _broken(course, "path: notebooks/basics.ipynb", f"path: {path}")
    assert e.line == 28 and e.field == "steps[0].notebooks[0].path"
    assert "'..'" in e.problem


def test_an_absolute_path_is_refused(course: Path) -> None:
    target = course / "notebooks" / "basics.ipynb"
    e = _broken(course, "path: notebooks/basics.ipynb", f"path: {target}")
    assert e.line == 28 and "relative" in e.problem


def test_the_same_notebook_spelled_twice_is_caught(course: Path) -> None:
    e = _broken(course, "path: notebooks/triple.ipynb", "path: ./notebooks//basics.ipynb")
    assert "listed twice" in e.problem


def test_a_notebook_without_exercises_is_refused(course: Path) -> None:
    # One rule everywhere: a notebook exists to be checked. (Before: accepted; `dl7 run` then
    # always exited 1 while `dl7 status` called the step complete.)
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    start = text.index("        exercises:\n          - id: step3.triple")
    manifest.write_text(text[:start] + "        exercises: []\n")
    with pytest.raises(ManifestError) as info:
        load(course)
    assert info.value.field == "steps[2].notebooks[0].exercises"
    assert info.value.line == text[:start].count("\n") + 1
    assert "at least one exercise" in info.value.problem


def _course_with_package_checker(course: Path, tmp_path: Path, module: str) -> Path:
    """A package on sys.path whose __init__ files leave a trace when executed."""
    site = tmp_path / "site"
    trace = tmp_path / "imported.txt"
    for package in ("sidepkg", "sidepkg/sub"):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text(f"open({str(trace)!r}, 'a').write({package!r} + '\\n')\n")
    (site / "sidepkg" / "sub" / "extra.py").write_text(
        "from dl7.checks import checker\n\n@checker('step1.extra')\ndef check(f): pass\n"
    )
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace("  - more_checks.py\n", f"  - more_checks.py\n  - {module}\n")
    )
    return trace


@pytest.mark.parametrize("module", ["sidepkg.sub.extra", "sidepkg.sub", "sidepkg.missing"])
def test_loading_never_executes_course_code(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    # Before: importlib.util.find_spec imported sidepkg and sidepkg.sub to find the submodule.
    trace = _course_with_package_checker(course, tmp_path, module)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    if module.endswith("missing"):
        with pytest.raises(ManifestError, match="cannot be found"):
            load(course)
    else:
        load(course)
    assert not trace.exists(), trace.read_text()
    assert not any(name.startswith("sidepkg") for name in sys.modules)


def test_checker_source_finds_packages_and_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "ns" / "pkg").mkdir(parents=True)  # ns is a namespace package (no __init__.py)
    (site / "ns" / "pkg" / "__init__.py").write_text("raise SystemExit('imported!')\n")
    (site / "ns" / "pkg" / "mod.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    assert checker_source("ns.pkg.mod") == site / "ns" / "pkg" / "mod.py"
    assert checker_source("ns.pkg") == site / "ns" / "pkg" / "__init__.py"
    assert checker_source("ns.nothing") is None
    assert checker_source("dl7.checks.helpers") is not None
    assert "ns.pkg" not in sys.modules


@pytest.mark.parametrize("path", ["../outside.ipynb", "a/../../x.ipynb", "/etc/passwd", ""])
def test_a_source_path_never_leaves_the_course(course: Path, path: str) -> None:
    c = load(course)
    nb = dataclasses.replace(c.step("step1").notebooks[0], path=path)
    with pytest.raises(Dl7Error, match="outside the course folder"):
        c.source_path(nb)


def test_the_epilogue_comes_after_the_seven_steps() -> None:
    steps = load().steps
    assert [s.id for s in steps if s.epilogue] == ["step8"]
    assert sum(not s.epilogue for s in steps) == 7


def test_a_step_after_an_epilogue_is_refused_with_its_line(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    # The fixture's first step becomes an epilogue: every step after it is out of place.
    manifest.write_text(
        text.replace(
            "  - id: step1\n    title: Basics\n", "  - id: step1\n    title: Basics\n    epilogue: true\n"
        )
    )
    with pytest.raises(ManifestError, match="cannot come after an epilogue") as caught:
        load(course)
    assert "curriculum.yaml:" in str(caught.value.message)


def test_a_notebook_path_names_its_notebook_for_every_command(tmp_path: Path) -> None:
    c = load()
    ref = c.resolve("notebooks/step2/01_linear_algebra.ipynb")
    assert ref.step.id == "step2" and [nb.path for nb in ref.notebooks] == [
        "notebooks/step2/01_linear_algebra.ipynb"
    ]
    # The learner's copy in their workspace names the same notebook.
    mine = tmp_path / "ws" / "notebooks" / "step2" / "01_linear_algebra.ipynb"
    assert c.resolve(str(mine)).notebooks == ref.notebooks
    with pytest.raises(Dl7Error):
        c.resolve("notebooks/step2/nope.ipynb")
