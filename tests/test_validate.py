"""`dl7 validate` on the fixture course: each failure kind is caught, and the cache works."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from dl7.cli import app

pytestmark = pytest.mark.kernel
runner = CliRunner()


def validate(course: Path, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["--curriculum", str(course), "validate", "--json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def problems(report: dict) -> list[tuple[str, str, str | None, str]]:
    return [
        (c["notebook"], c["case"], p["exercise"], p["reason"]) for c in report["cases"] for p in c["problems"]
    ]


def edit_source(course: Path, name: str, index: int, source: str | None) -> None:
    path = course / "notebooks" / name
    nb = json.loads(path.read_text())
    if source is None:
        del nb["cells"][index]
    else:
        nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb, indent=1))


def test_a_sound_course_validates_and_the_cache_skips_unchanged_notebooks(
    course: Path, tmp_path: Path
) -> None:
    code, report = validate(course, "step1", "step3", "--junit", str(tmp_path / "junit.xml"))
    assert code == 0, problems(report)
    assert report["executed"] == 4
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "6" and suite.get("failures") == "0"
    assert {(t.get("classname"), t.get("name")) for t in suite} >= {
        ("notebooks/basics.ipynb", "solved"),
        ("notebooks/basics.ipynb", "unsolved"),
    }

    code, again = validate(course, "step1", "step3")
    assert code == 0 and again["executed"] == 0
    assert all(c["cached"] for c in again["cases"] if c["case"] != "static")

    edit_source(course, "triple.ipynb", 0, "# Triple, reworded")
    code, third = validate(course, "step1", "step3")
    assert code == 0 and third["executed"] == 2
    rerun = {c["notebook"] for c in third["cases"] if c["case"] != "static" and not c["cached"]}
    assert rerun == {"notebooks/triple.ipynb"}

    more = course / "more_checks.py"
    more.write_text(more.read_text() + "\n# a comment changes the checker's source\n")
    code, fourth = validate(course, "step1", "step3")
    rerun = {c["notebook"] for c in fourth["cases"] if c["case"] != "static" and not c["cached"]}
    assert code == 0 and rerun == {"notebooks/triple.ipynb"}, "only the notebook that checker judges"

    code, forced = validate(course, "step1", "step3", "--no-cache")
    assert forced["executed"] == 4


def test_wrong_solution(course: Path) -> None:
    edit_source(
        course,
        "basics.ipynb",
        2,
        "def double(x):\n    ### BEGIN SOLUTION\n    return x + x + 1\n    ### END SOLUTION",
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert (
        "notebooks/basics.ipynb",
        "solved",
        "step1.double",
        "the solution does not pass (failed): double(0) returned 1; expected 0",
    ) in problems(report)


def test_vacuous_check(course: Path) -> None:
    checks = course / "checks.py"
    checks.write_text(
        checks.read_text().replace('    got = greet("Ada")\n', '    return "ok"\n    got = greet("Ada")\n')
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert (
        "notebooks/basics.ipynb",
        "unsolved",
        "step1.greet",
        "passes without a solution: the check is vacuous",
    ) in problems(report)


def test_exercise_listed_but_never_called(course: Path) -> None:
    edit_source(course, "basics.ipynb", 5, None)
    code, report = validate(course, "step1")
    assert code == 1
    reasons = problems(report)
    assert any(
        p[1] == "static" and p[2] == "step1.greet" and "never calls check('step1.greet')" in p[3]
        for p in reasons
    )
    assert [c["skipped"] for c in report["cases"]] == [False, True, True]


def test_call_not_listed(course: Path) -> None:
    edit_source(course, "basics.ipynb", 5, 'check("step1.greet", greet)\ncheck("step1.extra", 1)')
    code, report = validate(course, "step1")
    assert code == 1
    assert any(p[2] == "step1.extra" and "the manifest does not list it" in p[3] for p in problems(report))


def test_notebook_over_its_budget(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "cell_timeout: 2\n        budget: 20", "cell_timeout: 60\n        budget: 3"
        )
    )
    code, report = validate(course, "step2")
    assert code == 1
    assert any(p[1] == "solved" and "ran past its time budget of 3 s" in p[3] for p in problems(report))


def test_committed_outputs(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    nb["cells"][1]["execution_count"] = 1
    path.write_text(json.dumps(nb))
    code, report = validate(course, "step1")
    assert code == 1
    assert any("committed with outputs or execution counts (cells 2)" in p[3] for p in problems(report))


def test_unbalanced_markers(course: Path) -> None:
    edit_source(course, "basics.ipynb", 2, "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n")
    code, report = validate(course, "step1")
    assert code == 1
    assert any(
        "solution markers: cell 3, line 2: ### BEGIN SOLUTION is never closed" in p[3]
        for p in problems(report)
    )


def test_kernel_that_dies(course: Path) -> None:
    edit_source(
        course,
        "basics.ipynb",
        4,
        "import os\nos._exit(1)\n"
        "def greet(name):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
    )
    code, report = validate(course, "step1", "--jobs", "1")
    assert code == 1
    assert any(p[1] == "solved" and "the kernel died" in p[3] for p in problems(report))


def test_broken_manifest_fails_validation(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(manifest.read_text().replace("- id: step1.greet", "- id: step1.wave"))
    result = runner.invoke(app, ["--curriculum", str(course), "validate"])
    assert result.exit_code == 2  # bad input, like every command
    assert "no checker is registered for 'step1.wave'" in result.output


def test_bad_usage_is_exit_2(course: Path) -> None:
    assert runner.invoke(app, ["--curriculum", str(course), "validate", "step9"]).exit_code == 2
    assert runner.invoke(app, ["--curriculum", str(course), "validate", "--jobs", "0"]).exit_code == 2


def test_a_solved_cell_raising_after_the_checks_fails_validation(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "after-checks",
            "metadata": {},
            "source": "x = [1, 2]\nraise ValueError('the plot needs two lists')",
            "outputs": [],
            "execution_count": None,
        }
    )
    path.write_text(json.dumps(nb, indent=1))
    code, report = validate(course, "step1")
    assert code == 1
    assert (
        "notebooks/basics.ipynb",
        "solved",
        None,
        "a cell raises outside the checks: ValueError: the plot needs two lists (cell 7, line 2)",
    ) in problems(report)


# -- the cache key covers everything that can change a verdict ---------------------------------


def executed_cases(report: dict) -> set[tuple[str, str]]:
    return {(c["notebook"], c["case"]) for c in report["cases"] if c["case"] != "static" and not c["cached"]}


def test_a_metadata_change_reruns_the_notebook(course: Path) -> None:
    assert validate(course, "step1")[0] == 0
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][3]["metadata"]["tags"] = ["skip-execution"]  # the check of step1.double no longer runs
    path.write_text(json.dumps(nb, indent=1))
    code, report = validate(course, "step1")
    assert report["executed"] == 2
    assert code == 1 and any(p[2] == "step1.double" and p[1] == "solved" for p in problems(report))


def test_a_change_in_the_dl7_package_reruns_every_notebook(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert validate(course, "step1")[0] == 0
    import dl7.validate

    monkeypatch.setattr(dl7.validate, "package_digest", lambda curriculum: "another dl7")
    assert validate(course, "step1")[1]["executed"] == 2


def test_the_package_digest_covers_every_file_but_the_course_checkers(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7.curriculum import load
    from dl7.validate import cache

    package = tmp_path / "dl7"
    (package / "checks" / "step1").mkdir(parents=True)
    for name in ("validate/__init__.py", "datasets.py", "checks/helpers.py", "checks/step1/__init__.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(f"# {name}\n")
    monkeypatch.setattr(cache, "PACKAGE_DIR", package)
    curriculum = load(course / "curriculum.yaml")
    monkeypatch.setattr(cache, "course_checker_paths", lambda c: [package / "checks" / "step1"])
    before = cache.package_digest(curriculum)
    (package / "checks" / "step1" / "__init__.py").write_text("# judged through what the kernel imports\n")
    assert cache.package_digest(curriculum) == before
    for name in ("datasets.py", "validate/__init__.py", "checks/helpers.py"):
        (package / name).write_text((package / name).read_text() + "# edited\n")
        after = cache.package_digest(curriculum)
        assert after != before, name
        before = after


def test_a_course_module_the_kernel_imported_reruns_the_notebook_that_imported_it(course: Path) -> None:
    (course / "notebooks" / "scale.py").write_text("FACTOR = 2\n")
    edit_source(course, "basics.ipynb", 1, "from dl7 import check\nfrom scale import FACTOR")
    edit_source(
        course,
        "basics.ipynb",
        2,
        "def double(x):\n    ### BEGIN SOLUTION\n    return FACTOR * x\n    ### END SOLUTION",
    )
    assert validate(course, "step1", "step3")[0] == 0
    (course / "notebooks" / "scale.py").write_text("FACTOR = 3\n")
    code, report = validate(course, "step1", "step3")
    assert executed_cases(report) == {
        ("notebooks/basics.ipynb", "solved"),
        ("notebooks/basics.ipynb", "unsolved"),
    }
    assert code == 1, "the stale pass is not reused"


def test_no_cache_keeps_the_other_notebooks_entries(course: Path) -> None:
    assert validate(course, "step1", "step3")[0] == 0
    assert validate(course, "step3", "--no-cache")[1]["executed"] == 2
    assert validate(course, "step1", "step3")[1]["executed"] == 0


# -- known mistakes -------------------------------------------------------------------------------


DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
GREET = 'def greet(name):\n    ### BEGIN SOLUTION\n    return f"hello {name}"\n    ### END SOLUTION\n'


def mistake(label: str, body: str) -> str:
    return f"    ### BEGIN MISTAKE {label}\n    {body}\n    ### END MISTAKE\n"


def test_known_mistakes_that_fail_pass_validation_sharing_one_run(course: Path, tmp_path: Path) -> None:
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds two", "return x + 2"))
    edit_source(course, "basics.ipynb", 4, GREET + mistake("no space", 'return f"hello{name}"'))
    code, report = validate(course, "step1", "--junit", str(tmp_path / "junit.xml"))
    assert code == 0, problems(report)
    assert report["known_mistakes"] == 2
    rounds = [c for c in report["cases"] if c["case"].startswith("mistakes")]
    assert [c["case"] for c in rounds] == ["mistakes 1"], "independent exercises share one run"
    assert [(m["exercise"], m["label"], m["status"], m["ok"]) for m in rounds[0]["mistakes"]] == [
        ("step1.double", "adds two", "failed", True),
        ("step1.greet", "no space", "failed", True),
    ]
    names = {t.get("name") for t in ElementTree.parse(tmp_path / "junit.xml").getroot()}
    assert {"mistake step1.double: adds two", "mistake step1.greet: no space"} <= names

    code, again = validate(course, "step1")
    assert code == 0 and again["executed"] == 0
    assert [m["label"] for c in again["cases"] for m in c.get("mistakes", [])] == ["adds two", "no space"]


def test_a_known_mistake_that_passes_fails_validation(course: Path, tmp_path: Path) -> None:
    edit_source(
        course,
        "basics.ipynb",
        2,
        DOUBLE + mistake("adds two", "return x + 2") + mistake("adds itself", "return x + x"),
    )
    code, report = validate(course, "step1", "--junit", str(tmp_path / "junit.xml"))
    assert code == 1
    assert ("step1.double", "passes with the known mistake 'adds itself'") in [
        (p[2], p[3]) for p in problems(report)
    ]
    failures = [
        t for t in ElementTree.parse(tmp_path / "junit.xml").getroot() if t.find("failure") is not None
    ]
    assert [t.get("name") for t in failures] == ["mistake step1.double: adds itself"]


def test_dependent_exercises_get_separate_runs_and_independent_ones_share(course: Path) -> None:
    # Cells that do more than define functions cannot be replayed: they run as rounds.
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds two", "return x + 2") + "TWO = double(1)\n")
    greet = GREET + mistake("no space", 'return "hello" + name') + 'HELLO = greet("")\n'
    edit_source(course, "basics.ipynb", 4, greet)
    code, report = validate(course, "step1")
    assert code == 0, problems(report)
    rounds = [c for c in report["cases"] if c["case"].startswith("mistakes")]
    assert [len(c["mistakes"]) for c in rounds] == [2], "independent exercises share one run"

    # Now greet reads what double computed: a mistake in double could be why greet fails.
    edit_source(
        course,
        "basics.ipynb",
        4,
        greet.replace('return f"hello {name}"', 'return f"hello {name}" * (TWO // 2)'),
    )
    code, report = validate(course, "step1")
    assert code == 0, problems(report)
    rounds = [c for c in report["cases"] if c["case"].startswith("mistakes")]
    assert [len(c["mistakes"]) for c in rounds] == [1, 1]


def test_a_replayed_mistake_that_passes_is_caught_and_later_exercises_see_the_solution(course: Path) -> None:
    # greet calls double; double's mistake is replayed and undone before greet's cell runs.
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds itself", "return x + x"))
    edit_source(course, "basics.ipynb", 4, GREET.replace('f"hello {name}"', 'f"hello {name}"[: double(99)]'))
    code, report = validate(course, "step1")
    assert code == 1
    assert [(p[1], p[2], p[3]) for p in problems(report)] == [
        ("mistakes 1", "step1.double", "passes with the known mistake 'adds itself'")
    ]


def test_a_mistake_with_no_check_after_it_is_a_static_problem(course: Path) -> None:
    edit_source(
        course, "basics.ipynb", 5, 'check("step1.greet", greet)\n' + GREET + mistake("late", "return 1")
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert any(
        p[1] == "static" and "cell 6, line 6: the mistake 'late' has no check(...) after it" in p[3]
        for p in problems(report)
    )


def test_misplaced_mistake_markers_are_static_problems_with_cell_and_line(course: Path) -> None:
    edit_source(
        course, "basics.ipynb", 2, "def double(x):\n" + mistake("alone", "return 1") + "    return 2 * x\n"
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert any(
        "solution markers: cell 3, line 2: the mistake 'alone' follows no solution" in p[3]
        for p in problems(report)
    )


# -- planning the runs of known mistakes (no kernel) ------------------------------------------------


def _plan(*cells: str) -> list[tuple[list[str], bool]]:
    from dl7.validate.rounds import known_mistakes, plan

    nb = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells]}
    return [([k.label for k in run], replay) for run, replay in plan(nb, known_mistakes(nb))]


def test_mistakes_in_cells_that_only_define_are_replayed_in_one_run() -> None:
    runs = _plan(
        "import numpy as np\nfrom dl7 import check",
        "W = [0.15, 0.2]\nloss = np.square\n" + DOUBLE + mistake("adds two", "return x + 2"),
        'check("step1.double", double)',
        "def triple(x):\n    ### BEGIN SOLUTION\n    return double(x) + x\n    ### END SOLUTION\n"
        + mistake("doubles", "return double(x)"),
        'check("step3.triple", triple)',
    )
    assert runs == [(["adds two", "doubles"], True)]


@pytest.mark.parametrize(
    "prelude",
    [
        "W = np.random.default_rng(0).normal(size=3)\n",  # running it again draws other numbers
        "TWO = double(1)\n",  # runs learner code at the top level
    ],
)
def test_cells_that_do_more_than_define_run_as_rounds(prelude: str) -> None:
    runs = _plan(
        "import numpy as np\nfrom dl7 import check",
        DOUBLE + mistake("adds two", "return x + 2") + prelude,
        'check("step1.double", double)',
    )
    assert runs == [(["adds two"], False)]


def test_a_check_cell_that_assigns_is_not_replayed() -> None:
    runs = _plan(
        "from dl7 import check",
        DOUBLE + mistake("adds two", "return x + 2"),
        'result = double(2)\ncheck("step1.double", double)',
    )
    assert runs == [(["adds two"], False)]


def test_a_check_that_reads_what_a_tainted_cell_computed_is_not_replayed() -> None:
    runs = _plan(
        "from dl7 import check",
        DOUBLE + mistake("adds two", "return x + 2"),
        "FOUR = double(2)",
        'check("step1.double", lambda x: FOUR * x / 2)',
    )
    assert runs == [(["adds two"], False)]


def test_a_replayed_mistake_that_disturbs_later_exercises_is_not_trusted(course: Path) -> None:
    edit_source(course, "basics.ipynb", 1, 'from dl7 import check\nNAMES = ["Ada"]')
    edit_source(
        course,
        "basics.ipynb",
        2,
        DOUBLE + mistake("scribbles on NAMES", 'NAMES.append("x")\n    return x + 2'),
    )
    edit_source(
        course,
        "basics.ipynb",
        4,
        GREET.replace('f"hello {name}"', 'f"hello {name}" if len(NAMES) == 1 else "?"')
        + mistake("no space", 'return f"hello{name}"'),
    )
    code, report = validate(course, "step1")
    assert code == 1
    reasons = [(p[2], p[3]) for p in problems(report)]
    assert any(
        ex == "step1.greet"
        and "'no space' could not be judged" in why
        and "the solution itself is failed" in why
        for ex, why in reasons
    ), reasons


def test_the_cache_forgets_runs_a_notebook_no_longer_has(course: Path) -> None:
    from dl7.curriculum import load
    from dl7.validate.cache import Cache

    cache = Cache(load(course / "curriculum.yaml"))
    cache.entries = {}
    for n, case in enumerate(("solved", "mistakes 1", "mistakes 2")):
        cache.store(f"k{n}", "notebooks/basics.ipynb", case, {"deps": {}})
    cache.store("other", "notebooks/triple.ipynb", "mistakes 2", {"deps": {}})
    cache.forget_other_cases("notebooks/basics.ipynb", {"solved", "unsolved", "mistakes 1"})
    assert sorted(cache.entries) == ["k0", "k1", "other"]


def test_replayed_mistakes_run_inside_the_solved_run_and_do_not_count_against_its_budget(
    course: Path,
) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "cell_timeout: 30\n        budget: 60", "cell_timeout: 30\n        budget: 6", 1
        )
    )
    slow = "import time\n    time.sleep(7)\n    return x + 2"  # alone past the budget of 6 s
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds two, slowly", slow))
    code, report = validate(course, "step1")
    assert code == 0, problems(report)
    assert report["executed"] == 2, "solved with its replays, and unsolved: two kernels"
    seconds = {c["case"]: c["seconds"] for c in report["cases"] if c["notebook"] == "notebooks/basics.ipynb"}
    assert seconds["mistakes 1"] >= 7
    assert seconds["solved"] < 6, "the replays' time is not the solved notebook's"

    # Over budget on its own cells, the solved notebook still fails.
    edit_source(course, "basics.ipynb", 2, "import time\ntime.sleep(7)\n" + DOUBLE)
    code, report = validate(course, "step1")
    assert code == 1
    assert any(p[1] == "solved" and "budget" in p[3] for p in problems(report)), problems(report)


def test_kernels_run_side_by_side_share_the_cores_for_linear_algebra(monkeypatch: pytest.MonkeyPatch) -> None:
    from dl7.validate import kernel_threads

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert kernel_threads(1) == {}, "one kernel at a time keeps numpy's own choice"
    assert kernel_threads(2) == dict.fromkeys(
        ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "4"
    )
    assert set(kernel_threads(16).values()) == {"1"}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert "OPENBLAS_NUM_THREADS" not in kernel_threads(2), "what the user set wins"


@pytest.mark.parametrize(
    ("between", "replayed"),
    [
        ("def quadruple(x):\n    return double(double(x))", True),  # looks double up when it runs
        ("def quadruple(x, f=double):\n    return f(f(x))", False),  # took double when defined
        ("QUAD = double(double(1))\ndef quadruple(x):\n    return QUAD * x", False),  # ran it
    ],
)
def test_a_mistake_reaches_its_check_through_functions_defined_between(between: str, replayed: bool) -> None:
    runs = _plan(
        "import numpy as np\nfrom dl7 import check",
        DOUBLE + mistake("adds two", "return x + 2"),
        between,
        'check("step1.double", quadruple)',
    )
    assert runs == [(["adds two"], replayed)]


def test_each_replayed_mistake_is_undone_before_the_next(course: Path) -> None:
    # Two mistakes of one exercise in two cells: twice's mistake passes only while double's
    # mistake is still in place, so it is caught only if double was restored in between.
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds two", "return x + 2"))
    twice = "def twice(x):\n    ### BEGIN SOLUTION\n    return double(x)\n    ### END SOLUTION\n" + mistake(
        "adds one", "return x + x + (1 if double(1) == 2 else 0)"
    )
    nb_path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(nb_path.read_text())
    check_index = next(i for i, c in enumerate(nb["cells"]) if 'check("step1.double"' in "".join(c["source"]))
    nb["cells"][check_index]["source"] = 'check("step1.double", twice)'
    nb["cells"].insert(
        check_index,
        {
            "cell_type": "code",
            "id": "twice",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": twice,
        },
    )
    nb_path.write_text(json.dumps(nb))
    code, report = validate(course, "step1")
    assert code == 0, problems(report)
    outcomes = [(m["label"], m["ok"]) for c in report["cases"] for m in c.get("mistakes", [])]
    assert ("adds one", True) in outcomes and ("adds two", True) in outcomes


def test_a_replayed_mistake_that_hangs_is_reported_and_the_solution_still_judged(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "cell_timeout: 30\n        budget: 60", "cell_timeout: 3\n        budget: 60", 1
        )
    )
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("never returns", "while True:\n        pass"))
    code, report = validate(course, "step1")
    assert code == 1
    found = problems(report)
    assert not [p for p in found if p[1] == "solved"], found
    assert any(p[1] == "mistakes 1" and "could not be judged" in p[3] and "3 s" in p[3] for p in found), found


# -- shards: a deterministic share of the cases, and the merge of their reports ---------------------


@pytest.mark.parametrize("bad", ["0/3", "4/3", "x/y", "3", "1/0", "-1/3", "1/3/3", ""])
def test_a_bad_shard_is_one_line_of_bad_usage(course: Path, bad: str) -> None:
    result = runner.invoke(app, ["--curriculum", str(course), "validate", "--shard", bad])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: --shard {bad!r}: expected K/N with 1 <= K <= N <= 1000, such as 2/3"
    ]
    from dl7.locations import validate_cache_file

    assert not validate_cache_file(course).exists(), "nothing ran"


def _units() -> list:
    from dl7.validate.shards import Unit

    units = []
    for nb, scale in (("a.ipynb", 1.0), ("b.ipynb", 2.0), ("c.ipynb", 3.0), ("d.ipynb", 0.5)):
        units += [
            Unit(nb, ("static",), 0.0),
            Unit(nb, ("solved", "mistakes 1"), 60 * scale),
            Unit(nb, ("unsolved",), 12 * scale),
            Unit(nb, ("mistakes 2",), 30 * scale),
        ]
    return units


def test_shards_share_every_unit_once_longest_first_and_the_same_everywhere() -> None:
    from dl7.validate.shards import assign

    units = _units()
    shard_of = assign(units, 3, {})
    assert sorted(set(shard_of)) == [1, 2, 3] and len(shard_of) == len(units)
    loads = [sum(u.estimate for u, s in zip(units, shard_of, strict=True) if s == k) for k in (1, 2, 3)]
    assert max(loads) - min(loads) <= 30, loads  # greedy LPT: within the largest unit it could not split
    # The same units in another order (another machine's walk) land in the same shards.
    shuffled = list(reversed(units))
    again = dict(zip(shuffled, assign(shuffled, 3, {}), strict=True))
    assert [again[u] for u in units] == shard_of
    assert assign(units, 1, {}) == [1] * len(units)
    assert sorted(assign(units[:2], 5, {})) == [1, 2], "more shards than units: some run nothing"


def test_shards_balance_by_recorded_durations_and_scale_the_estimates_of_the_rest() -> None:
    from dl7.validate.shards import Unit, _costs, assign

    units = [
        Unit("a.ipynb", ("solved",), 10.0),
        Unit("b.ipynb", ("solved",), 10.0),
        Unit("c.ipynb", ("solved", "mistakes 1"), 20.0),
        Unit("d.ipynb", ("static",), 0.0),
    ]
    # a took 40 s instead of the 10 s guessed: every guess is scaled by 4 where nothing is known.
    durations = {"a.ipynb": {"solved": 40.0}, "c.ipynb": {"solved": 5.0}}  # c's mistakes never timed
    assert _costs(units, durations) == [4000, 4000, 8000, 0]
    assert _costs(units, {}) == [1000, 1000, 2000, 0]
    assert assign(units, 2, {}) == [2, 2, 1, 1], "by the estimates: c alone, a and b together"
    timed = {
        "a.ipynb": {"solved": 90.0},
        "b.ipynb": {"solved": 1.0},
        "c.ipynb": {"solved": 2.0, "mistakes 1": 3.0},
    }
    assert assign(units, 2, timed) == [1, 2, 2, 2], "a really is the long one: alone in its shard"


def shard_report(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, *args: str
) -> dict:
    """A run with its own fresh cache, as on a CI machine of its own; its report saved to ``name``."""
    monkeypatch.setenv("DL7_VALIDATE_CACHE", str(tmp_path / f"cache-{name}" / "validate.json"))
    _, report = validate(course, *args)
    (tmp_path / name).write_text(json.dumps(report))
    return report


def without_times(report: dict) -> dict:
    report = {k: v for k, v in report.items() if k != "seconds"}
    report["cases"] = [{k: v for k, v in c.items() if k != "seconds"} for c in report["cases"]]
    return report


def junit_without_times(path: Path) -> list:
    suite = ElementTree.parse(path).getroot()
    items = sorted((k, v) for k, v in suite.attrib.items() if k != "time")
    cases = [
        (sorted((k, v) for k, v in t.attrib.items() if k != "time"), [(c.tag, c.attrib, c.text) for c in t])
        for t in suite
    ]
    return [items, cases]


def test_the_merged_report_of_three_shards_is_the_unsharded_report(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # basics gets a replayed mistake (inside its solved run) and one run of its own; slow fails.
    edit_source(course, "basics.ipynb", 2, DOUBLE + mistake("adds two", "return x + 2"))
    greet = GREET + mistake("no space", 'return "hello" + name') + 'HELLO = greet("")\n'
    edit_source(course, "basics.ipynb", 4, greet)
    whole = shard_report(course, tmp_path, monkeypatch, "whole.json", "--junit", str(tmp_path / "whole.xml"))
    assert not whole["ok"] and "shard" not in whole
    assert [c["case"] for c in whole["cases"] if c["notebook"] == "notebooks/basics.ipynb"] == [
        "static",
        "solved",
        "unsolved",
        "mistakes 1",
        "mistakes 2",
    ]
    shards = [
        shard_report(course, tmp_path, monkeypatch, f"shard{k}.json", "--shard", f"{k}/3") for k in (1, 2, 3)
    ]
    seen = [(c["notebook"], c["case"]) for s in shards for c in s["cases"]]
    assert sorted(seen) == sorted((c["notebook"], c["case"]) for c in whole["cases"]), "each case once"
    assert all(s["cases"] for s in shards), "every shard has work"
    assert len({s["shard"]["plan"] for s in shards}) == 1
    assert sum(s["executed"] for s in shards) == whole["executed"], "replays still ride in their solved run"

    names = [str(tmp_path / f"shard{k}.json") for k in (3, 1, 2)]  # any order
    result = runner.invoke(
        app, ["validate", "--merge", *names, "--json", "--junit", str(tmp_path / "merged.xml")]
    )
    assert result.exit_code == 1, result.output  # the verdict of the whole: slow.ipynb fails
    merged = json.loads(result.stdout)
    assert without_times(merged) == without_times(whole)
    assert junit_without_times(tmp_path / "merged.xml") == junit_without_times(tmp_path / "whole.xml")

    # The table an author reads is the unsharded one too.
    text = runner.invoke(app, ["validate", "--merge", *names])
    failed = sum(not c["ok"] for c in whole["cases"])
    summary = (
        f"{len(whole['cases']) - failed} passed, {failed} failed (0 cached, {whole['executed']} notebook runs"
    )
    assert text.exit_code == 1 and "notebooks/slow.ipynb" in text.stdout and summary in text.stdout

    # Every executed case's time is recorded, failures included: what the next shards balance by.
    recorded = json.loads((tmp_path / "cache-whole.json" / "validate.json").read_text())["durations"]
    assert set(recorded["notebooks/slow.ipynb"]) == {"solved", "unsolved"}
    assert set(recorded["notebooks/basics.ipynb"]) == {"solved", "unsolved", "mistakes 1", "mistakes 2"}
    shard_cache = json.loads((tmp_path / "cache-shard1.json" / "validate.json").read_text())
    assert shard_cache["durations"] == {}, "shards keep no times: the next shard must plan alike"

    # Shards balanced by an earlier (merged) report's times still add up to the whole course.
    merged_path = tmp_path / "merged.json"
    merged_path.write_text(result.stdout)
    again = [
        shard_report(
            course,
            tmp_path,
            monkeypatch,
            f"timed{k}.json",
            "--shard",
            f"{k}/2",
            "--durations",
            str(merged_path),
        )
        for k in (1, 2)
    ]
    assert sorted((c["notebook"], c["case"]) for s in again for c in s["cases"]) == sorted(seen)


def _shard_file(path: Path, index: int, count: int, plan: str = "p", cases: list | None = None) -> str:
    case = {"notebook": "a.ipynb", "case": "static", "ok": True, "cached": False, "skipped": False}
    report = {
        "course": "fixture",
        "ok": True,
        "seconds": 1.0,
        "executed": 0,
        "known_mistakes": 0,
        "cases": cases
        if cases is not None
        else [{**case, "case": f"static{index}", "seconds": 0.0, "problems": []}],
        "shard": {"index": index, "count": count, "plan": plan, "cases": count, "notebooks": ["a.ipynb"]},
    }
    path.write_text(json.dumps(report))
    return str(path)


@pytest.mark.parametrize(
    ("shards", "says"),
    [
        ([(1, 3, "p"), (2, 3, "p")], "--merge: shard 3/3 is missing; every shard's report is needed"),
        ([(1, 2, "p"), (1, 2, "p")], "shard 1/2 is given twice"),
        ([(1, 2, "p"), (2, 2, "q")], "shard 2/2 was planned differently from"),
        ([(1, 2, "p"), (2, 3, "p")], "shard 2/3 was planned differently from"),
    ],
)
def test_shards_that_do_not_belong_together_do_not_merge(tmp_path: Path, shards: list, says: str) -> None:
    names = [
        _shard_file(tmp_path / f"s{n}.json", k, count, plan) for n, (k, count, plan) in enumerate(shards)
    ]
    result = runner.invoke(app, ["validate", "--merge", *names])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr, result.stderr


def test_shards_whose_cases_do_not_add_up_to_the_plan_do_not_merge(tmp_path: Path) -> None:
    same = [{"notebook": "a.ipynb", "case": "static", "ok": True, "cached": False, "skipped": False}]
    same[0].update(seconds=0.0, problems=[])
    names = [_shard_file(tmp_path / f"s{k}.json", k, 2, cases=same) for k in (1, 2)]
    result = runner.invoke(app, ["validate", "--merge", *names])
    assert result.exit_code == 2 and "a.ipynb static is reported twice" in result.stderr, result.stderr
    names = [_shard_file(tmp_path / f"s{k}.json", k, 2, cases=same if k == 1 else []) for k in (1, 2)]
    result = runner.invoke(app, ["validate", "--merge", *names])
    assert result.exit_code == 2 and "cases are missing" in result.stderr, result.stderr


def test_merge_reads_json_reports_only_and_runs_nothing(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text('<?xml version="1.0"?><testsuite/>')
    plain = tmp_path / "whole.json"
    plain.write_text(json.dumps({"course": "c", "seconds": 1, "executed": 0, "cases": []}))
    for args, says in [
        ([str(xml)], "this is XML; --merge reads the shards' JSON reports"),
        ([str(plain)], "not a shard's report (it was run without --shard)"),
        ([str(tmp_path / "absent.json")], "cannot read the report"),
        ([], "--merge: name the shards' JSON reports"),
        (["--no-cache", str(plain)], "--merge reads reports and runs nothing: drop --no-cache"),
    ]:
        result = runner.invoke(app, ["validate", "--merge", *args])
        assert result.exit_code == 2 and says in result.stderr, (args, result.stderr)
    result = runner.invoke(app, ["validate", "--durations", str(plain)])
    assert result.exit_code == 2 and "--durations only balances shards" in result.stderr


# -- the cache follows the data files a notebook reads and the distributions its kernel imported ------


def test_a_data_file_beside_the_notebook_or_in_the_course_data_folder_reruns_it(course: Path) -> None:
    (course / "notebooks" / "factor.txt").write_text("2\n")
    edit_source(course, "basics.ipynb", 1, "from dl7 import check\nFACTOR = int(open('factor.txt').read())")
    edit_source(
        course,
        "basics.ipynb",
        2,
        "def double(x):\n    ### BEGIN SOLUTION\n    return FACTOR * x\n    ### END SOLUTION",
    )
    assert validate(course, "step1", "step3")[0] == 0
    (course / "notebooks" / "factor.txt").write_text("3\n")
    code, report = validate(course, "step1", "step3")
    # Every notebook in that folder may read it: both re-run; the stale pass is not reused.
    assert executed_cases(report) == {
        (f"notebooks/{nb}.ipynb", case) for nb in ("basics", "triple") for case in ("solved", "unsolved")
    }
    assert code == 1 and any(p[2] == "step1.double" for p in problems(report))

    (course / "notebooks" / "factor.txt").write_text("2\n")
    assert validate(course, "step1", "step3")[0] == 0
    (course / "data").mkdir()
    (course / "data" / "table.csv").write_text("x,y\n1,2\n")
    assert len(executed_cases(validate(course, "step1", "step3")[1])) == 4, "a new file in data/"
    assert validate(course, "step1", "step3")[1]["executed"] == 0
    (course / "data" / "table.csv").write_text("x,y\n1,3\n")
    assert len(executed_cases(validate(course, "step1", "step3")[1])) == 4, "an edited file in data/"

    # What no notebook reads as data: hidden folders, compiled modules, other notebooks' sources.
    (course / "notebooks" / ".ipynb_checkpoints").mkdir()
    (course / "notebooks" / ".ipynb_checkpoints" / "basics-checkpoint.ipynb").write_text("{}")
    (course / "notebooks" / "__pycache__").mkdir()
    (course / "notebooks" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert validate(course, "step1", "step3")[1]["executed"] == 0


def _install(site: Path, dist: str, version: str, module: str | None = None) -> None:
    """A real (if tiny) installed distribution: a dist-info with its metadata and top-level module."""
    for old in site.glob(f"{dist.replace('-', '_')}-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    if module is not None:
        (info / "top_level.txt").write_text(module + "\n")
        (site / module).mkdir(exist_ok=True)
        (site / module / "__init__.py").write_text("VALUE = 2\n")


def test_the_cache_locks_every_distribution_the_kernel_imported_and_no_other(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _install(site, "dl7-fake-used", "1.0", "dl7_fake_used")
    _install(site, "dl7-fake-unused", "1.0", "dl7_fake_unused")
    monkeypatch.setenv("PYTHONPATH", str(site))  # the kernel's
    monkeypatch.syspath_prepend(str(site))  # this process's importlib.metadata
    edit_source(course, "basics.ipynb", 1, "from dl7 import check\nimport dl7_fake_used")
    assert validate(course, "step1", "step3")[0] == 0
    from dl7.locations import validate_cache_file

    entries = json.loads(validate_cache_file(course).read_text())["passed"].values()
    locked = {(e["notebook"], e["case"]): e["dists"] for e in entries}
    assert locked["notebooks/basics.ipynb", "solved"]["dl7-fake-used"] == "1.0"
    assert "dl7-fake-used" not in locked["notebooks/triple.ipynb", "solved"]
    assert all("ipykernel" in d for d in locked.values()), "the kernel's own libraries are locked too"
    assert not any("dl7-fake-unused" in d for d in locked.values())

    _install(site, "dl7-fake-unused", "2.0", "dl7_fake_unused")  # upgraded, but imported by none
    assert validate(course, "step1", "step3")[1]["executed"] == 0
    _install(site, "dl7-fake-used", "1.1")  # upgraded: only the notebook that imported it re-runs
    code, report = validate(course, "step1", "step3")
    assert code == 0 and executed_cases(report) == {
        ("notebooks/basics.ipynb", "solved"),
        ("notebooks/basics.ipynb", "unsolved"),
    }


def test_the_course_kernel_environment_is_part_of_the_key(course: Path) -> None:
    assert validate(course, "step1")[0] == 0
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace("\nsteps:", '\nkernel:\n  env:\n    COURSE_FACTOR: "2"\nsteps:')
    )
    assert validate(course, "step1")[1]["executed"] == 2, "every kernel of the course sees it"


@pytest.mark.kernel
@pytest.mark.slow
def test_a_course_installed_in_the_environment_still_has_its_checkers_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A course a wheel installs lies inside the environment (site-packages/dl7/course): the
    files its kernel imports must still count, though the environment's own packages do not."""
    import shutil
    import sys
    import uuid

    from tests.conftest import FIXTURE_COURSE

    monkeypatch.setenv("DL7_VALIDATE_CACHE", str(tmp_path / "validate.json"))
    course = Path(sys.prefix) / f"dl7-test-course-{uuid.uuid4().hex[:8]}"
    shutil.copytree(FIXTURE_COURSE, course, ignore=shutil.ignore_patterns(".dl7-cache"))
    try:
        assert validate(course, "step1")[0] == 0
        assert executed_cases(validate(course, "step1")[1]) == set()
        checks = course / "checks.py"
        checks.write_text(checks.read_text() + "\n# the course's checkers changed\n")
        assert executed_cases(validate(course, "step1")[1]) == {
            ("notebooks/basics.ipynb", "solved"),
            ("notebooks/basics.ipynb", "unsolved"),
        }
    finally:
        shutil.rmtree(course)


# -- a committed or planted verdict never skips a run --------------------------------------------


def _forge_passes(course: Path, path: Path) -> None:
    """Write at ``path`` a validate cache that says every case of step 1 passed, as a pull request
    could commit it: the keys are the ones dl7 computes (nothing in them is secret), each entry
    an empty promise (no files, no distributions to re-check)."""
    import dl7.validate as validate_module
    from dl7.validate.cache import FORMAT, case_key

    passed: dict[str, dict] = {}

    def spy(curriculum, nb, case, *rest):  # type: ignore[no-untyped-def]
        key = case_key(curriculum, nb, case, *rest)
        passed[key] = {"notebook": nb.path, "case": case, "seconds": 0.1, "deps": {}, "dists": {}}
        return key

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate_module, "case_key", spy)
        assert validate(course, "step1", "--no-cache")[0] == 1
    assert {v["case"] for v in passed.values()} == {"solved", "unsolved"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "passed": passed, "durations": {}}))


def _git_commit(folder: Path, *paths: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "-f", *(str(p) for p in paths))
    git("-c", "user.name=pr", "-c", "user.email=pr@example.invalid", "commit", "-q", "-m", "PASS")


@pytest.mark.parametrize("where", ["committed-in-course", "committed-named-by-env", "planted-by-nobody"])
def test_a_committed_or_planted_pass_does_not_skip_a_run(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import os
    import pwd

    edit_source(  # the pull request breaks the solution and commits a cache that says it passes
        course,
        "basics.ipynb",
        2,
        "def double(x):\n    ### BEGIN SOLUTION\n    return x + x + 1\n    ### END SOLUTION",
    )
    if where == "committed-in-course":  # where the cache lived before: read by default
        forged = course / ".dl7-cache" / "validate.json"
    elif where == "committed-named-by-env":  # a CI job that keeps the cache in the checkout
        forged = course / "ci-cache" / "validate.json"
        monkeypatch.setenv("DL7_VALIDATE_CACHE", str(forged))
    else:  # a cache file in a shared folder, written there by another user
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        forged = shared / "validate.json"
        monkeypatch.setenv("DL7_VALIDATE_CACHE", str(forged))
    _forge_passes(course, forged)
    if where == "planted-by-nobody":
        nobody = pwd.getpwnam("nobody")
        os.chown(forged, nobody.pw_uid, nobody.pw_gid)
    else:
        _git_commit(course, forged, course / "notebooks" / "basics.ipynb")

    code, report = validate(course, "step1")
    assert code == 1, "the forged PASS was believed"
    assert ("notebooks/basics.ipynb", "solved") in executed_cases(report)
    assert any(p[1] == "solved" and p[2] == "step1.double" for p in problems(report))
